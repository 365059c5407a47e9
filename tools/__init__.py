"""The project's tools, outside the installed package: training the built-in models (:mod:`.train`), converting
pretrained weights that a registry package ships (:mod:`.import_weights`), measuring the built-ins' quality
(:mod:`.quality`), and starting the app for a real browser (:mod:`.launch`, for the browser tests and the
benchmarks). Run from a checkout: ``python -m tools.train digits-vae``, say."""

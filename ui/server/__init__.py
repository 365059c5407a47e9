"""The server's services, which the pages reach through ``ui`` and which never touch widgets: workspace files and
their store (:mod:`.workspace`), seed sets (:mod:`.seed_set`), the server's limits (:mod:`.limits`), the pipeline
folders a browser may load (:mod:`.model_folders`), the decode batcher shared by all sessions (:mod:`.batching`)
and the cache of decoded images (:mod:`.decoded`)."""

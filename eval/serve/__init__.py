"""``reencoder-serve``: the project's models behind a web page and a JSON API, in one process.

* :mod:`.backends` — a loaded model folder (a neural one of ``reencoder-export``, through the
  :class:`~reencoder.translate.Translator`, or Thot's of ``reencoder-baseline``) with one
  ``translate`` call, and the Reencoder grid's heat map as JSON (:mod:`reencoder.visualize`);
* :mod:`.batcher` — one worker thread per model that merges the lines of requests arriving
  together into one beam search, round-robin over requests so that a long one cannot starve
  short ones;
* :mod:`.app` — the Starlette application: the page (``static/``), ``/models``, ``/health``,
  ``/translate``, ``/heatmap``; every error a 4xx (503 when overloaded) with ``{"error": "..."}``;
* :mod:`.cli` — the console script (uvicorn serves the application).

It lives in ``eval`` rather than ``reencoder`` because it serves Thot's phrase-based model
(:mod:`eval.phrase_based`) beside the neural ones, and imports point one way
(recipes -> eval -> reencoder -> data_prep).
"""

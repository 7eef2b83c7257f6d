"""`neural-style serve`: a local web page over the fast networks and the article's optimisation.

safety (the Host check, the token, the upload limit, the bounded pool, the server's temporary folder), networks (the
networks loaded once and kept warm, the styles' thumbnails), pictures (a stylise request's fields checked in one
place, the library's calls, the equivalent `neural-style apply` line), jobs (the refine queue: one StyleTransfer at a
time, cancel, events), app (create_app: the routes, on Starlette), server (the socket, uvicorn, the ready line, the
signals). static/ holds the page. Nothing here imports TensorFlow or Starlette until the server starts, so that
`neural-style serve --help` is quick.
"""

"""`neural-style serve`: a local web page over the fast networks and the article's optimisation.

safety (the Host check, the token, the upload limit, the bounded pool, the server's temporary folder), pictures (a
stylise request's fields checked in one place, the library calls, the equivalent `neural-style apply` line), jobs
(the refine queue: one StyleTransfer at a time, cancel, events), app (create_app: the routes). static/ holds the page.
Nothing here imports TensorFlow until the server builds its networks, so that `neural-style serve --help` is quick.
"""

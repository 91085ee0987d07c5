"""The live web board: a Starlette app (`app`), its journal feed (`feed`), the JSON it serves
(`views`) and the page itself (`page.html`)."""

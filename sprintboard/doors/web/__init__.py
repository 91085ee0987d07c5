"""The live web board: a Starlette app (`app`), its journal feed (`feed`), the JSON it serves
(`page_data`) and the page itself (`page.html`)."""

"""Documents in the browser: compilations, drafts and answer files, listed and downloaded."""

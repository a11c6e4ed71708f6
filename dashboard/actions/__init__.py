"""Administrators' actions in the browser: each a POST with CSRF that calls the same domain
function as its command, then says what was done and what the next ticks will send."""

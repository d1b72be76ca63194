"""Write each inline ``<script>`` of a page once.

Sphinx 7.4 keeps an inline script that an extension registers after the HTML builder
started (sphinx-thebe's ``const THEBE_JS_URL = ...``, sphinx-togglebutton's selector) under
two file names, ``None`` and ``''``, and writes it twice; a repeated ``const`` is a
JavaScript SyntaxError on every page. This drops the second copy.
"""

from __future__ import annotations


def _drop_repeated_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        key = (script.filename or "", script.priority, tuple(sorted(script.attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


def setup(app):
    # after every other handler, so scripts added for one page are seen too
    app.connect("html-page-context", _drop_repeated_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

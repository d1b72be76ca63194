// The claims ledger's filter: menus above each table.nc-ledger keep the rows of one kind of claim,
// and those with one verdict at the best evidence or at one profile. It reads the data- attributes
// that nclib.report.claims_table writes: data-profiles and data-kinds on the table, and on each
// claim's row data-kind, data-best and data-v-<profile> (holds, contradicted, smaller,
// inconclusive, premise). A group row (tr.nc-group) is hidden when none of its claims is shown.
// Without JavaScript the page shows every row.
(function () {
  var VERDICTS = [['all', 'any verdict'], ['holds', 'holds'], ['contradicted', 'contradicted'],
                  ['smaller', "smaller than the paper's"], ['inconclusive', 'inconclusive'],
                  ['premise', 'premise not met']];

  function menu(label, options, onchange) {
    var wrap = document.createElement('label');
    wrap.style.cssText = 'display:inline-flex;flex-wrap:wrap;align-items:center;gap:0.3em;max-width:100%';
    wrap.appendChild(document.createTextNode(label));
    var select = document.createElement('select');
    select.style.maxWidth = '100%';
    options.forEach(function (o) {
      var option = document.createElement('option');
      option.value = o[0];
      option.textContent = o[1];
      select.appendChild(option);
    });
    select.addEventListener('change', onchange);
    wrap.appendChild(select);
    return {label: wrap, select: select};
  }

  function setup(table) {
    var words = function (name) { return (table.getAttribute(name) || '').split(' ').filter(Boolean); };
    var profiles = words('data-profiles'), kinds = words('data-kinds');
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    var bar = document.createElement('div');
    bar.className = 'nc-ledger-filter';
    bar.style.cssText = 'display:flex;flex-wrap:wrap;gap:0.5em 1.2em;margin:0.5em 0;align-items:center';
    var count = document.createElement('span');
    count.setAttribute('aria-live', 'polite');

    function apply() {
      var kind = kindMenu.select.value, where = profileMenu.select.value, verdict = verdictMenu.select.value;
      var key = where === 'best' ? 'data-best' : 'data-v-' + where;
      var shown = 0, total = 0, group = null, groupShown = false;
      function closeGroup() { if (group) { group.hidden = !groupShown; } }
      rows.forEach(function (row) {
        if (row.classList.contains('nc-group')) {
          closeGroup();
          group = row;
          groupShown = false;
          return;
        }
        total += 1;
        var value = row.getAttribute(key);
        var keep = (kind === 'all' || row.getAttribute('data-kind') === kind) && value !== null &&
                   (verdict === 'all' || value === verdict);
        row.hidden = !keep;
        if (keep) { shown += 1; groupShown = true; }
      });
      closeGroup();
      count.textContent = shown + ' of ' + total + ' claims shown';
    }

    var kindMenu = menu('Kind:', [['all', 'every kind']].concat(kinds.map(function (k) { return [k, k]; })), apply);
    var profileMenu = menu('Verdict at:', [['best', 'the best evidence']].concat(
      profiles.map(function (p) { return [p, p === 'paper' ? 'the paper profile' : p]; })), apply);
    var verdictMenu = menu('Verdict:', VERDICTS, apply);
    [kindMenu.label, profileMenu.label, verdictMenu.label, count].forEach(function (e) { bar.appendChild(e); });
    var box = table.closest('.nc-result') || table;
    box.parentNode.insertBefore(bar, box);
    apply();
  }

  function start() {
    document.querySelectorAll('table.nc-ledger').forEach(setup);
  }
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();

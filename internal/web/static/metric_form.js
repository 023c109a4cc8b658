// The metric form: shows the fields of the chosen kind and measure, and
// adds and removes URL rows in place. Without this module the form shows
// every field, marked with the kinds it applies to, and the server ignores
// those of other kinds; its Add and Remove buttons post the form back.

const form = document.getElementById('metric-form');
if (form) {
  const kind = form.elements.namedItem('kind');
  const rows = document.getElementById('url-rows');
  const template = document.getElementById('url-row-template');
  const status = document.getElementById('form-status');

  const checked = (name) => {
    const el = form.querySelector(`input[name="${name}"]:checked`);
    return el ? el.value : '';
  };

  const update = () => {
    const k = kind ? kind.value : '';
    for (const el of form.querySelectorAll('[data-kinds]')) {
      el.hidden = !el.dataset.kinds.split(' ').includes(k);
    }
    const numeric = (k === 'custom' || k === 'trace') && checked('measure') === 'numeric';
    for (const el of form.querySelectorAll('[data-numeric]')) {
      if (!el.closest('[data-kinds]') || !el.closest('[data-kinds]').hidden) el.hidden = !numeric;
    }
    const analysis = form.elements.namedItem('analysisType');
    for (const el of form.querySelectorAll('[data-percentile]')) {
      el.hidden = !(analysis && analysis.value === 'percentile');
    }
    const who = checked('maintainerKind') || 'member';
    for (const el of form.querySelectorAll('[data-maintainer]')) {
      el.hidden = el.dataset.maintainer !== who;
    }
    // Controls inside hidden parts are not sent.
    for (const c of form.querySelectorAll('input, select, textarea, button')) {
      if (c.type === 'hidden') continue;
      c.disabled = !!c.closest('[hidden]');
    }
  };

  // renumber gives the URL rows' controls ids and labels by position.
  const renumber = () => {
    if (!rows) return;
    rows.querySelectorAll('li.url-row').forEach((li, i) => {
      const sel = li.querySelector('select');
      const input = li.querySelector('input');
      const labels = li.querySelectorAll('label');
      sel.id = `urlKind-${i}`;
      input.id = `urlValue-${i}`;
      labels[0].htmlFor = sel.id;
      labels[1].htmlFor = input.id;
      const hidden = li.querySelector('button .visually-hidden');
      if (hidden) hidden.textContent = ` URL ${i + 1}`;
    });
  };

  const say = (msg) => {
    if (status) {
      let p = status.querySelector('.live');
      if (!p) {
        p = document.createElement('p');
        p.className = 'live visually-hidden';
        status.append(p);
      }
      p.textContent = msg;
    }
  };

  form.addEventListener('change', update);
  form.addEventListener('click', (e) => {
    const remove = e.target.closest('[data-remove-url]');
    if (remove && rows) {
      e.preventDefault();
      const li = remove.closest('li');
      const next = li.nextElementSibling || li.previousElementSibling;
      li.remove();
      if (!rows.querySelector('li')) addRow(false);
      renumber();
      const focus = (next && next.querySelector('input')) || rows.querySelector('input');
      if (focus) focus.focus();
      say('URL removed.');
      return;
    }
    if (e.target.closest('#add-url') && rows && template) {
      e.preventDefault();
      addRow(true);
      say('URL added.');
    }
  });

  function addRow(focus) {
    const li = template.content.firstElementChild.cloneNode(true);
    rows.append(li);
    renumber();
    if (focus) li.querySelector('input').focus();
  }

  update();
  // After a refusal or with an impact to confirm, start where it is said.
  const first = document.getElementById('error-summary') || document.getElementById('impact');
  if (first) first.focus();
  // Tests (and styles) can tell the enhanced form from the plain one.
  form.dataset.enhanced = 'true';
}

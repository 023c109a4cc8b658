// The metric group editor's steps, reordered in the page: drag a step by
// its handle, or focus the handle and press ArrowUp / ArrowDown; the Up,
// Down and Remove buttons act in the page too. Every move is announced in
// the form's live region. Without this module the same buttons post the
// form and the server moves the step (page_group_edit.go).

const form = document.querySelector('form[data-group-editor]');
const list = form && form.querySelector('#steps');
const status = form && form.querySelector('#steps-status');

function rows() {
  return [...list.querySelectorAll(':scope > li.step')];
}

function label(row) {
  const name = row.querySelector('input[name="stepName"]');
  return (name && name.value.trim()) || row.dataset.key;
}

function announce(text) {
  // Clear first so that the same message twice is read twice.
  status.textContent = '';
  window.setTimeout(() => { status.textContent = text; }, 50);
}

// renumber shows each row's position and keeps the no-script buttons'
// values in step with the order.
function renumber() {
  rows().forEach((row, i) => {
    row.querySelector('.pos').textContent = `${i + 1}.`;
    for (const b of row.querySelectorAll('button[data-move]')) b.value = `${b.dataset.move}:${i}`;
  });
}

function moved(row) {
  const all = rows();
  renumber();
  announce(`Moved ${label(row)} to position ${all.indexOf(row) + 1} of ${all.length}.`);
}

function move(row, delta) {
  const all = rows();
  const i = all.indexOf(row);
  const j = i + delta;
  if (j < 0 || j >= all.length) {
    announce(`${label(row)} is already the ${delta < 0 ? 'first' : 'last'} step.`);
    return false;
  }
  if (delta < 0) list.insertBefore(row, all[j]);
  else list.insertBefore(row, all[j].nextSibling);
  moved(row);
  return true;
}

function remove(row) {
  const all = rows();
  const i = all.indexOf(row);
  const name = label(row);
  row.remove();
  renumber();
  const rest = rows();
  const next = rest[Math.min(i, rest.length - 1)];
  (next ? next.querySelector('.handle') : form.querySelector('#pq')).focus();
  announce(`Removed ${name}. ${rest.length} step${rest.length === 1 ? '' : 's'} left.`);
}

function enhance() {
  for (const row of rows()) {
    const handle = row.querySelector('.handle');
    handle.hidden = false;
    handle.draggable = true;
  }

  list.addEventListener('keydown', (e) => {
    const handle = e.target.closest('.handle');
    if (!handle) return;
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      const row = handle.closest('li.step');
      announce(`${label(row)} is step ${rows().indexOf(row) + 1} of ${rows().length}. Press the up or down arrow key to move it.`);
      return;
    }
    const delta = { ArrowUp: -1, ArrowDown: 1 }[e.key];
    if (!delta) return;
    e.preventDefault();
    move(handle.closest('li.step'), delta);
    handle.focus();
  });

  list.addEventListener('click', (e) => {
    const button = e.target.closest('button[data-move]');
    if (!button) return;
    e.preventDefault();
    const row = button.closest('li.step');
    if (button.dataset.move === 'remove') remove(row);
    else {
      move(row, button.dataset.move === 'up' ? -1 : 1);
      button.focus();
    }
  });

  let dragged = null;
  list.addEventListener('dragstart', (e) => {
    const handle = e.target.closest && e.target.closest('.handle');
    if (!handle) return;
    dragged = handle.closest('li.step');
    dragged.classList.add('dragging');
    e.dataTransfer.effectAllowed = 'move';
    e.dataTransfer.setData('text/plain', dragged.dataset.key);
  });
  list.addEventListener('dragover', (e) => {
    if (!dragged) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'move';
    const over = e.target.closest && e.target.closest('li.step');
    if (!over || over === dragged) return;
    const box = over.getBoundingClientRect();
    const after = e.clientY > box.top + box.height / 2;
    list.insertBefore(dragged, after ? over.nextSibling : over);
  });
  list.addEventListener('drop', (e) => {
    if (dragged) e.preventDefault();
  });
  list.addEventListener('dragend', () => {
    if (!dragged) return;
    const row = dragged;
    dragged = null;
    row.classList.remove('dragging');
    moved(row);
  });
}

if (list && status) enhance();

// Progressive enhancement of the server-rendered pages: everything works
// without this module, it only saves clicks.

// The project switcher goes as soon as a project is chosen with the
// pointer. Browsers fire change on every arrow key in a closed select, so a
// change made with the keyboard waits for Enter or the Go button (which
// stays shown), and keyboard users can reach every project.
for (const form of document.querySelectorAll('form[data-autosubmit]')) {
  let keyed = false;
  form.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && e.target instanceof HTMLSelectElement) {
      e.preventDefault();
      form.requestSubmit();
      return;
    }
    keyed = true;
  });
  form.addEventListener('pointerdown', () => { keyed = false; });
  form.addEventListener('change', () => {
    if (!keyed) form.requestSubmit();
  });
}

// Forms with data-confirm ask before they are sent.
for (const form of document.querySelectorAll('form[data-confirm]')) {
  form.addEventListener('submit', (e) => {
    if (!window.confirm(form.dataset.confirm)) e.preventDefault();
  });
}

// Page modules, loaded only on the pages that have their element.
if (document.querySelector('form[data-group-editor]')) import('./group-editor.js');

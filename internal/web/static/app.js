// Progressive enhancement of the server-rendered pages: everything works
// without this module, it only saves clicks.

// The project switcher has its own button and does not go on change:
// choosing with the arrow keys must not leave the page (WCAG 3.2.2).

// Forms with data-confirm ask before they are sent.
for (const form of document.querySelectorAll('form[data-confirm]')) {
  form.addEventListener('submit', (e) => {
    if (!window.confirm(form.dataset.confirm)) e.preventDefault();
  });
}

// Page modules, loaded only on the pages that have their element.
if (document.querySelector('form[data-group-editor]')) import('./group-editor.js');

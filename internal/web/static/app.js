// Progressive enhancement of the server-rendered pages: everything works
// without this module, it only saves clicks.

// The project switcher goes as soon as a project is chosen.
for (const form of document.querySelectorAll('form[data-autosubmit]')) {
  const button = form.querySelector('button[type="submit"]');
  if (button) button.hidden = true;
  form.addEventListener('change', () => form.requestSubmit());
}

// Forms with data-confirm ask before they are sent.
for (const form of document.querySelectorAll('form[data-confirm]')) {
  form.addEventListener('submit', (e) => {
    if (!window.confirm(form.dataset.confirm)) e.preventDefault();
  });
}

// Page modules, loaded only on the pages that have their element.
if (document.querySelector('form[data-group-editor]')) import('./group-editor.js');

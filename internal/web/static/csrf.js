// fetch with the page's CSRF token in the X-CSRF-Token header, for pages
// that send changes from JavaScript. The token is the one the layout
// renders into every form.
export function csrfToken() {
  const field = document.querySelector('input[name="csrf"]');
  return field ? field.value : '';
}

export function csrfFetch(url, options = {}) {
  const headers = new Headers(options.headers || {});
  headers.set('X-CSRF-Token', csrfToken());
  return fetch(url, { ...options, headers, credentials: 'same-origin' });
}

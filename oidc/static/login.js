// The sign-in page of the OpenID provider: a passkey assertion with user
// verification, then on to the consent page. Served from the issuer's
// origin, so that the page's policy forbids inline script.
'use strict';
(() => {
  const d = document.body.dataset;
  const b64 = s => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), c => c.charCodeAt(0));
  const enc = a => btoa(String.fromCharCode(...new Uint8Array(a))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const post = (path, body) => fetch(path, {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)});
  const go = document.getElementById('go');
  const err = document.getElementById('err');

  // failure is why a sign-in failed, as a key of the page's messages.
  class failure extends Error {
    constructor(key, detail) { super(detail); this.key = key; }
  }
  const byStatus = {400: 'expired', 401: 'refused', 429: 'limited'};
  const check = async r => {
    if (!r.ok) throw new failure(byStatus[r.status] || 'failed', (await r.text()).trim());
    return r.json();
  };

  go.addEventListener('click', async () => {
    go.disabled = true;
    err.textContent = '';
    err.dataset.key = '';
    document.body.setAttribute('aria-busy', 'true');
    try {
      const ch = await check(await post('login/begin', {id: d.id}));
      const pk = ch.options.publicKey;
      pk.challenge = b64(pk.challenge);
      (pk.allowCredentials || []).forEach(c => { c.id = b64(c.id); });
      let c;
      try {
        c = await navigator.credentials.get({publicKey: pk});
      } catch (e) {
        throw new failure(e && e.name === 'NotAllowedError' ? 'cancelled' : 'failed', String(e && e.message || e));
      }
      const credential = {id: c.id, rawId: enc(c.rawId), type: c.type, response: {
        clientDataJSON: enc(c.response.clientDataJSON), authenticatorData: enc(c.response.authenticatorData),
        signature: enc(c.response.signature), userHandle: c.response.userHandle ? enc(c.response.userHandle) : null}};
      const done = await check(await post('login/finish', {id: d.id, ceremony_id: ch.ceremony_id, credential}));
      location = done.next + '&lang=' + encodeURIComponent(d.lang);
    } catch (e) {
      const key = e instanceof failure ? e.key : 'failed';
      err.dataset.key = key;
      err.textContent = key === 'failed' ? d.failed + ' ' + (e && e.message || e) : d[key];
      go.disabled = key === 'expired';
      document.body.removeAttribute('aria-busy');
    }
  });
})();

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
  go.addEventListener('click', async () => {
    go.disabled = true;
    err.textContent = '';
    document.body.setAttribute('aria-busy', 'true');
    try {
      const begun = await post('login/begin', {id: d.id});
      if (!begun.ok) throw new Error(await begun.text());
      const ch = await begun.json();
      const pk = ch.options.publicKey;
      pk.challenge = b64(pk.challenge);
      (pk.allowCredentials || []).forEach(c => { c.id = b64(c.id); });
      const c = await navigator.credentials.get({publicKey: pk});
      const credential = {id: c.id, rawId: enc(c.rawId), type: c.type, response: {
        clientDataJSON: enc(c.response.clientDataJSON), authenticatorData: enc(c.response.authenticatorData),
        signature: enc(c.response.signature), userHandle: c.response.userHandle ? enc(c.response.userHandle) : null}};
      const r = await post('login/finish', {id: d.id, ceremony_id: ch.ceremony_id, credential});
      if (!r.ok) throw new Error(await r.text());
      location = (await r.json()).next + '&lang=' + encodeURIComponent(d.lang);
    } catch (e) {
      err.textContent = d.failed + ' ' + (e && e.message ? e.message.trim() : e);
      go.disabled = false;
      document.body.removeAttribute('aria-busy');
    }
  });
})();

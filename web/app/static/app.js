// Thiqa citizen app. A single page that talks to the JSON API under
// /api/v1/ with the session cookie the API sets (HttpOnly: this script never
// sees the session token). Text comes from the catalogues below; data from
// the API is put into the page with textContent only, never as HTML.
'use strict';

(() => {
  const T = {
    ar: {
      brand: 'ثقة', skip: 'تخطَّ إلى المحتوى', menu: 'القائمة', loading: 'جارٍ التحميل…',
      title: 'ثقة — الهوية الرقمية',
      tab_requests: 'للتوقيع', tab_history: 'السجل', tab_devices: 'أجهزتي', tab_lost: 'فقدت هاتفي',
      welcome_title: 'هويتك الرقمية',
      welcome_text: 'وقّع المستندات الحكومية وادخل إلى الخدمات بمفتاح المرور على هاتفك.',
      signin: 'الدخول بمفتاح المرور', activate: 'تفعيل الهوية الرقمية', back: 'رجوع',
      activate_title: 'تفعيل الهوية الرقمية',
      activate_text: 'أدخل الرقم الوطني ورمز التفعيل الذي سلّمك إياه موظف المركز، ثم أنشئ مفتاح مرور على هذا الهاتف.',
      nid: 'الرقم الوطني', nid_help: 'عشرة أرقام، بالأرقام العربية أو الهندية.',
      code: 'رمز التفعيل', code_help: 'مثل ‎7KQ2M-9XH4P‎، صالح لمدة قصيرة ولمرة واحدة.',
      device_name: 'اسم هذا الجهاز', default_device: 'هاتفي',
      activate_submit: 'تفعيل وإنشاء مفتاح المرور',
      activated_title: 'تم تفعيل هويتك الرقمية',
      activated_text: 'أصبح مفتاح المرور على هذا الهاتف جاهزاً. ادخل به الآن.',
      requests_title: 'طلبات بانتظار توقيعك', requests_empty: 'لا توجد طلبات بانتظار توقيعك.',
      hello: 'مرحباً، {name}',
      agency: 'الجهة', state: 'الحالة', sent: 'أُرسل', expires: 'ينتهي', completed: 'اكتمل',
      documents: 'المستندات', n_documents: '{n} مستند', open: 'عرض', download: 'تنزيل',
      download_signed: 'تنزيل الموقَّع',
      approve: 'موافقة وتوقيع', reject: 'رفض',
      code_compare: 'تأكد أن الرمز نفسه يظهر على شاشة الجهة:',
      code_then: 'ثم أكّد بمفتاح المرور لتوقيع هذه المستندات فقط.',
      confirm_passkey: 'تأكيد بمفتاح المرور', cancel: 'إلغاء',
      reject_why: 'سبب الرفض (اختياري)', reject_confirm: 'تأكيد الرفض',
      signed_notice: 'تم توقيع المستندات.', rejected_notice: 'تم رفض الطلب.',
      signing_wait: 'جارٍ التوقيع…',
      history_title: 'سجل التوقيعات', history_empty: 'لا يوجد شيء في السجل بعد.',
      devices_title: 'أجهزتي', devices_text: 'مفاتيح المرور المسجلة لهويتك الرقمية.',
      added: 'أُضيف', last_used: 'آخر استخدام', disable: 'إيقاف', disable_confirm: 'تأكيد الإيقاف',
      disabled: 'موقوف', active_device: 'يعمل', add_device_title: 'هاتف جديد؟',
      add_device_text: 'إذا دخلت على هذا الهاتف بمفتاح المرور من هاتفك القديم، فأضف مفتاح مرور على هذا الهاتف.',
      add_device: 'إضافة مفتاح مرور على هذا الجهاز', device_added_notice: 'أُضيف مفتاح مرور «{name}».', device_disabled_notice: 'تم إيقاف مفتاح المرور على «{name}».',
      lost_title: 'الإبلاغ عن فقدان هاتف',
      lost_text: 'اختر الهاتف المفقود ليتوقف مفتاح المرور عليه فوراً. يبقى مفتاح التوقيع محفوظاً لدى ثقة ولا يخرج منها.',
      lost_which: 'أي هاتف فقدت؟', lost_submit: 'إيقاف مفتاح المرور على هذا الهاتف',
      lost_none: 'اختر الهاتف المفقود أولاً.', lost_why: 'أبلغ المواطن عن فقدان الهاتف من التطبيق',
      lost_all_title: 'ليس لديك هاتف آخر؟',
      lost_all_text: 'أوقف هويتك الرقمية مؤقتاً، ثم راجع أي مركز خدمة لإضافة هاتف جديد.',
      suspend: 'إيقاف هويتي الرقمية مؤقتاً', suspend_why: 'أوقفها المواطن من التطبيق بعد فقدان هاتفه',
      suspended_notice: 'تم إيقاف هويتك الرقمية مؤقتاً. راجع مركز خدمة لإعادة تفعيلها.',
      signout: 'تسجيل الخروج', signed_out: 'تم تسجيل الخروج.',
      st_pending: 'بانتظار التوقيع', st_signing: 'جارٍ التوقيع', st_signed: 'موقَّع', st_rejected: 'مرفوض',
      st_expired: 'منتهي', st_failed: 'فشل',
      err_nid: 'الرقم الوطني عشرة أرقام.', err_code_format: 'رمز التفعيل عشرة أحرف وأرقام.',
      err_code: 'رمز التفعيل غير صحيح أو منتهي الصلاحية أو مستخدم. اطلب رمزاً جديداً من المركز إن لزم.',
      err_locked: 'توقف التفعيل بعد محاولات خاطئة كثيرة. راجع مركز الخدمة.',
      err_passkey: 'لم يُقبل مفتاح المرور.', err_cancelled: 'أُلغيت العملية أو لم يتحقق الهاتف منك.',
      err_session: 'انتهت الجلسة. ادخل من جديد.', err_state: 'لم تعد هذه العملية ممكنة في الحالة الحالية.',
      err_expired: 'انتهت صلاحية الطلب.', err_not_found: 'غير موجود.', err_invalid: 'البيانات المدخلة غير صحيحة.',
      err_unsupported: 'هذا المتصفح لا يدعم مفاتيح المرور.', err_network: 'تعذّر الاتصال بالخادم.',
      err_other: 'حدث خطأ. حاول مرة أخرى.',
    },
    en: {
      brand: 'Thiqa', skip: 'Skip to content', menu: 'Menu', loading: 'Loading…',
      title: 'Thiqa — digital identity',
      tab_requests: 'To sign', tab_history: 'History', tab_devices: 'My devices', tab_lost: 'Lost phone',
      welcome_title: 'Your digital identity',
      welcome_text: 'Sign government documents and sign in to services with the passkey on your phone.',
      signin: 'Sign in with passkey', activate: 'Activate my digital identity', back: 'Back',
      activate_title: 'Activate your digital identity',
      activate_text: 'Enter your national number and the activation code the centre officer gave you, then create a passkey on this phone.',
      nid: 'National number', nid_help: 'Ten digits, Western or Arabic-Indic.',
      code: 'Activation code', code_help: 'Like 7KQ2M-9XH4P; valid for a short time, once.',
      device_name: 'Name of this device', default_device: 'My phone',
      activate_submit: 'Activate and create passkey',
      activated_title: 'Your digital identity is active',
      activated_text: 'The passkey on this phone is ready. Sign in with it now.',
      requests_title: 'Waiting for your signature', requests_empty: 'Nothing is waiting for your signature.',
      hello: 'Hello, {name}',
      agency: 'Agency', state: 'State', sent: 'Sent', expires: 'Expires', completed: 'Completed',
      documents: 'Documents', n_documents: '{n} document(s)', open: 'Open', download: 'Download',
      download_signed: 'Download signed',
      approve: 'Approve and sign', reject: 'Reject',
      code_compare: 'Check that the agency\'s screen shows the same code:',
      code_then: 'Then confirm with your passkey to sign exactly these documents.',
      confirm_passkey: 'Confirm with passkey', cancel: 'Cancel',
      reject_why: 'Reason for rejecting (optional)', reject_confirm: 'Confirm rejection',
      signed_notice: 'The documents are signed.', rejected_notice: 'The request was rejected.',
      signing_wait: 'Signing…',
      history_title: 'Signature history', history_empty: 'Nothing in your history yet.',
      devices_title: 'My devices', devices_text: 'The passkeys registered for your digital identity.',
      added: 'Added', last_used: 'Last used', disable: 'Disable', disable_confirm: 'Confirm disabling',
      disabled: 'Disabled', active_device: 'Active', add_device_title: 'A new phone?',
      add_device_text: 'If you signed in on this phone with the passkey of your old phone, add a passkey on this phone.',
      add_device: 'Add a passkey on this device', device_added_notice: 'The passkey “{name}” is added.', device_disabled_notice: 'The passkey on “{name}” is disabled.',
      lost_title: 'Report a lost phone',
      lost_text: 'Choose the lost phone and its passkey stops working at once. Your signing key stays safe with Thiqa; it never leaves it.',
      lost_which: 'Which phone did you lose?', lost_submit: 'Disable the passkey on this phone',
      lost_none: 'Choose the lost phone first.', lost_why: 'citizen reported the phone lost in the app',
      lost_all_title: 'No other phone?',
      lost_all_text: 'Suspend your digital identity, then visit any service centre to add a new phone.',
      suspend: 'Suspend my digital identity', suspend_why: 'citizen suspended it in the app after losing their phone',
      suspended_notice: 'Your digital identity is suspended. Visit a service centre to resume it.',
      signout: 'Sign out', signed_out: 'You are signed out.',
      st_pending: 'Waiting for signature', st_signing: 'Signing', st_signed: 'Signed', st_rejected: 'Rejected',
      st_expired: 'Expired', st_failed: 'Failed',
      err_nid: 'The national number has ten digits.', err_code_format: 'The activation code has ten letters and digits.',
      err_code: 'The activation code is wrong, expired or already used. Ask the centre for a new code if needed.',
      err_locked: 'Activation is locked after too many wrong codes. Visit the service centre.',
      err_passkey: 'The passkey was not accepted.', err_cancelled: 'The operation was cancelled or the phone could not verify you.',
      err_session: 'Your session ended. Sign in again.', err_state: 'This is no longer possible in the current state.',
      err_expired: 'The request has expired.', err_not_found: 'Not found.', err_invalid: 'The input is not valid.',
      err_unsupported: 'This browser does not support passkeys.', err_network: 'The server could not be reached.',
      err_other: 'Something went wrong. Try again.',
    },
  };

  const $ = (id) => document.getElementById(id);
  const state = { lang: 'ar', me: null, view: '', pendingApproval: null, returnTo: '', keepOnce: false };

  // ---- language -----------------------------------------------------
  function t(key, vars) {
    let s = (T[state.lang] && T[state.lang][key]) || T.en[key] || key;
    for (const [k, v] of Object.entries(vars || {})) s = s.replace('{' + k + '}', v);
    return s;
  }

  function chooseLang() {
    const q = new URLSearchParams(location.search).get('lang');
    if (q === 'ar' || q === 'en') {
      try { localStorage.setItem('thiqa-lang', q); } catch (e) { /* private mode */ }
      return q;
    }
    try {
      const saved = localStorage.getItem('thiqa-lang');
      if (saved === 'ar' || saved === 'en') return saved;
    } catch (e) { /* private mode */ }
    return 'ar';
  }

  function applyLang() {
    const root = document.documentElement;
    root.lang = state.lang;
    root.dir = state.lang === 'ar' ? 'rtl' : 'ltr';
    document.title = t('title');
    for (const el of document.querySelectorAll('[data-t]')) el.textContent = t(el.dataset.t);
    for (const el of document.querySelectorAll('[data-t-aria-label]')) el.setAttribute('aria-label', t(el.dataset.tAriaLabel));
    // Messages on show follow the language too.
    for (const el of [$('error'), $('notice')]) {
      if (!el.hidden && el.dataset.key) el.textContent = t(el.dataset.key, JSON.parse(el.dataset.vars || '{}'));
    }
    for (const el of document.querySelectorAll('.field-error')) {
      if (!el.hidden && el.dataset.key) el.textContent = t(el.dataset.key);
    }
    const other = state.lang === 'ar' ? 'en' : 'ar';
    const btn = $('lang');
    btn.lang = other;
    btn.textContent = other === 'en' ? 'English' : 'العربية';
  }

  function locale() { return state.lang === 'ar' ? 'ar-JO' : 'en-GB'; }

  function fmtDate(s) {
    if (!s || s.startsWith('0001-')) return '';
    return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(s));
  }

  function fmtSize(n) {
    return new Intl.NumberFormat(locale(), { maximumFractionDigits: 1 }).format(n / 1024) + (state.lang === 'ar' ? ' ك.ب' : ' KB');
  }

  // westernDigits maps Arabic-Indic (٠-٩) and Extended Arabic-Indic (۰-۹)
  // digits to 0-9, as the server does.
  function westernDigits(s) {
    return s.replace(/[\u0660-\u0669]/g, (d) => String(d.charCodeAt(0) - 0x660))
      .replace(/[\u06F0-\u06F9]/g, (d) => String(d.charCodeAt(0) - 0x6F0));
  }

  // ---- API ------------------------------------------------------------
  class APIError extends Error {
    constructor(status, slug, detail) {
      super(detail || slug || String(status));
      this.status = status;
      this.slug = slug;
    }
  }

  async function api(method, path, body) {
    const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch('/api/v1/' + path, init);
    } catch (e) {
      throw new APIError(0, 'network', String(e));
    }
    if (res.status === 204) return null;
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
    if (!res.ok) {
      const slug = data && typeof data.type === 'string' ? data.type.split('/').pop() : '';
      throw new APIError(res.status, slug, data && data.detail);
    }
    return data;
  }

  function docURL(id, n, signed) {
    return '/api/v1/sign-requests/' + encodeURIComponent(id) + '/documents/' + n + (signed ? '/signed' : '');
  }

  // ---- WebAuthn JSON <-> browser objects ------------------------------
  function b64uToBuf(s) {
    const b = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4));
    const out = new Uint8Array(b.length);
    for (let i = 0; i < b.length; i++) out[i] = b.charCodeAt(i);
    return out.buffer;
  }

  function bufToB64u(buf) {
    const bytes = new Uint8Array(buf);
    let s = '';
    for (const x of bytes) s += String.fromCharCode(x);
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function creationOptions(opts) {
    const pk = Object.assign({}, opts.publicKey);
    pk.challenge = b64uToBuf(pk.challenge);
    pk.user = Object.assign({}, pk.user, { id: b64uToBuf(pk.user.id) });
    pk.excludeCredentials = (pk.excludeCredentials || []).map((c) => Object.assign({}, c, { id: b64uToBuf(c.id) }));
    return { publicKey: pk };
  }

  function requestOptions(opts) {
    const pk = Object.assign({}, opts.publicKey);
    pk.challenge = b64uToBuf(pk.challenge);
    pk.allowCredentials = (pk.allowCredentials || []).map((c) => Object.assign({}, c, { id: b64uToBuf(c.id) }));
    return { publicKey: pk };
  }

  function registrationJSON(cred) {
    const r = cred.response;
    return {
      id: cred.id, rawId: bufToB64u(cred.rawId), type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults(),
      response: {
        clientDataJSON: bufToB64u(r.clientDataJSON), attestationObject: bufToB64u(r.attestationObject),
        transports: r.getTransports ? r.getTransports() : [],
      },
    };
  }

  function assertionJSON(cred) {
    const r = cred.response;
    return {
      id: cred.id, rawId: bufToB64u(cred.rawId), type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults(),
      response: {
        clientDataJSON: bufToB64u(r.clientDataJSON), authenticatorData: bufToB64u(r.authenticatorData),
        signature: bufToB64u(r.signature), userHandle: r.userHandle ? bufToB64u(r.userHandle) : undefined,
      },
    };
  }

  function needPasskeys() {
    if (!window.PublicKeyCredential || !navigator.credentials) throw new APIError(0, 'unsupported');
  }

  // ---- messages -----------------------------------------------------
  function clearMessages() {
    $('error').hidden = true;
    $('notice').hidden = true;
  }

  function notice(key, vars) {
    const el = $('notice');
    el.dataset.key = key;
    el.dataset.vars = JSON.stringify(vars || {});
    el.textContent = t(key, vars);
    el.hidden = false;
  }

  const slugKeys = {
    'bad-activation-code': 'err_code', locked: 'err_locked', 'passkey-refused': 'err_passkey',
    unauthorized: 'err_session', 'wrong-state': 'err_state', expired: 'err_expired', 'not-found': 'err_not_found',
    invalid: 'err_invalid', network: 'err_network', unsupported: 'err_unsupported',
    'unknown-ceremony': 'err_cancelled', 'approval-refused': 'err_passkey',
  };

  function showKey(key) {
    const el = $('error');
    el.textContent = t(key);
    el.dataset.key = key;
    el.dataset.vars = '{}';
    el.hidden = false;
    el.focus();
  }

  function showError(e) {
    let key = 'err_other';
    if (e instanceof APIError) key = slugKeys[e.slug] || (e.status === 401 ? 'err_session' : 'err_other');
    else if (e && (e.name === 'NotAllowedError' || e.name === 'AbortError')) key = 'err_cancelled';
    else if (e && e.name === 'InvalidStateError') key = 'err_passkey';
    showKey(key);
    if (e instanceof APIError && e.status === 401 && e.slug !== 'bad-activation-code' && e.slug !== 'passkey-refused') {
      // The session ended: back to the welcome page with the message, and
      // back here after signing in again.
      const was = state.me;
      state.me = null;
      showTabs();
      if (was) {
        state.returnTo = signedInViews.has(parseRoute().view) ? location.hash : '';
        state.keepOnce = true;
        if (location.hash !== '#/') location.hash = '#/';
      }
    }
  }

  // busy disables a button while an operation runs and reports its error.
  async function busy(btn, fn) {
    clearMessages();
    if (btn) btn.disabled = true;
    document.body.setAttribute('aria-busy', 'true');
    try {
      await fn();
    } catch (e) {
      showError(e);
    } finally {
      if (btn) btn.disabled = false;
      document.body.removeAttribute('aria-busy');
    }
  }

  // ---- views ----------------------------------------------------------
  const signedInViews = new Set(['requests', 'request', 'history', 'devices', 'lost']);

  function show(view) {
    state.view = view;
    for (const s of document.querySelectorAll('section.view')) s.hidden = s.id !== 'v-' + view;
    const tab = view === 'request' ? 'requests' : view;
    for (const a of document.querySelectorAll('#tabs a')) {
      if (a.dataset.tab === tab) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    document.body.dataset.view = view;
  }

  function focusHeading(view) {
    const h = document.querySelector('#v-' + view + ' h1');
    if (h) {
      h.tabIndex = -1;
      h.focus({ preventScroll: true });
    }
  }

  function showTabs() {
    $('tabs').hidden = !state.me;
    $('signout').hidden = !state.me;
  }

  function parseRoute() {
    const parts = location.hash.split('?')[0].replace(/^#\/?/, '').split('/').filter(Boolean);
    return { view: parts[0] || '', arg: parts[1] ? decodeURIComponent(parts[1]) : '' };
  }

  // route shows the view of the location's hash. keepMessages keeps the
  // error and notice shown; relabel (a language switch) keeps what the
  // citizen was in the middle of.
  async function route(keepMessages, relabel) {
    if (!keepMessages && !state.keepOnce) clearMessages();
    state.keepOnce = false;
    let { view, arg } = parseRoute();
    if (view === 'requests' && arg) view = 'request';
    if (!view) view = state.me ? 'requests' : 'welcome';
    if (signedInViews.has(view) && !state.me) view = 'welcome';
    if ((view === 'welcome' || view === 'activate') && state.me) view = 'requests';
    showTabs();
    show('loading');
    try {
      switch (view) {
        case 'requests': await renderRequests(); break;
        case 'request': await renderRequest(arg, relabel); break;
        case 'history': await renderHistory(); break;
        case 'devices': await renderDevices(); break;
        case 'lost': await renderLost(); break;
        case 'activate':
          $('device').placeholder = t('default_device');
          if (prefill(location.hash)) history.replaceState(null, '', '#/activate');
          break;
        case 'activated': break;
        default: view = 'welcome';
      }
    } catch (e) {
      showError(e);
      if (!state.me) view = 'welcome';
    }
    show(view);
    focusHeading(view);
  }

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v;
      else if (k.startsWith('data-')) e.setAttribute(k, v);
      else e[k] = v;
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c);
    return e;
  }

  function purpose(r) {
    return (state.lang === 'ar' ? r.purpose_ar || r.purpose_en : r.purpose_en || r.purpose_ar) || r.id;
  }

  // agencyOf names who asks: the agency's name, else its ID.
  function agencyOf(r) { return r.agency_name || r.agency || ''; }

  function stateBadge(s) {
    return el('span', { class: 'state ' + s, 'data-state': s }, t('st_' + s));
  }

  async function loadMe() {
    try {
      state.me = await api('GET', 'me');
    } catch (e) {
      if (e instanceof APIError && (e.status === 401 || e.status === 403)) state.me = null;
      else throw e;
    }
  }

  function displayName() {
    const m = state.me || {};
    const ar = [m.given_name_ar, m.surname_ar].filter(Boolean).join(' ');
    const en = [m.given_name, m.surname].filter(Boolean).join(' ');
    return (state.lang === 'ar' ? ar || en : en || ar) || m.national_id || '';
  }

  async function renderRequests() {
    $('hello').textContent = t('hello', { name: displayName() });
    const list = await api('GET', 'sign-requests?state=pending');
    const ul = $('requests');
    ul.replaceChildren();
    for (const r of list || []) {
      ul.append(el('li', { 'data-id': r.id },
        el('a', { class: 'title', href: '#/requests/' + encodeURIComponent(r.id) }, purpose(r)),
        el('div', { class: 'meta' }, (agencyOf(r) ? agencyOf(r) + ' · ' : '') + t('n_documents', { n: (r.documents || []).length })),
        el('div', { class: 'meta' }, t('expires') + ': ' + fmtDate(r.expires))));
    }
    $('requests-empty').hidden = ul.children.length > 0;
  }

  function docLinks(r, d, signed) {
    const name = signed ? d.name.replace(/\.pdf$/i, '') + '-signed.pdf' : d.name;
    const open = el('a', { href: docURL(r.id, d.index, signed), class: 'open', 'data-doc': String(d.index) }, t('open'));
    open.addEventListener('click', (ev) => {
      ev.preventDefault();
      busy(null, () => openPDF(docURL(r.id, d.index, signed)));
    });
    const dl = el('a', { href: docURL(r.id, d.index, signed), download: name, class: signed ? 'download-signed' : 'download', 'data-doc': String(d.index) },
      t(signed ? 'download_signed' : 'download'));
    return [open, ' ', dl];
  }

  // openPDF shows a PDF in a new tab from a blob: URL, since the API sends
  // documents as attachments.
  // The tab is opened at once, while the tap still allows it, and filled
  // when the document has arrived.
  async function openPDF(url) {
    const w = window.open('', '_blank');
    try {
      const res = await fetch(url, { credentials: 'same-origin' });
      if (!res.ok) throw new APIError(res.status, res.status === 401 ? 'unauthorized' : '', '');
      const blob = new Blob([await res.arrayBuffer()], { type: 'application/pdf' });
      const u = URL.createObjectURL(blob);
      if (w) {
        w.location.href = u;
      } else {
        el('a', { href: u, download: 'document.pdf' }).click();
      }
      setTimeout(() => URL.revokeObjectURL(u), 60000);
    } catch (e) {
      if (w) w.close();
      throw e;
    }
  }

  async function renderRequest(id, relabel) {
    const confirming = !!relabel && !$('req-confirm').hidden && !!state.pendingApproval;
    const rejecting = !!relabel && !$('reject-form').hidden;
    const r = await api('GET', 'sign-requests/' + encodeURIComponent(id));
    state.request = r;
    $('req-purpose').textContent = purpose(r);
    $('req-agency').textContent = agencyOf(r) || '—';
    $('req-state').replaceChildren(stateBadge(r.state));
    $('req-created').textContent = fmtDate(r.created);
    $('req-expires').textContent = fmtDate(r.completed || r.expires);
    const ul = $('req-docs');
    ul.replaceChildren();
    for (const d of r.documents || []) {
      const signed = r.state === 'signed' && d.signed_size > 0;
      ul.append(el('li', { 'data-doc': String(d.index) },
        el('div', {}, d.name + ' ', el('span', { class: 'meta' }, '(' + fmtSize(d.size) + ')')),
        el('div', { class: 'links' }, ...docLinks(r, d, false), ...(signed ? [' ', ...docLinks(r, d, true).slice(2)] : []))));
    }
    const pending = r.state === 'pending';
    $('req-actions').hidden = !pending || confirming || rejecting;
    $('req-confirm').hidden = !(pending && confirming);
    $('reject-form').hidden = !(pending && rejecting);
    if (!confirming) state.pendingApproval = null;
  }

  async function renderHistory() {
    const list = (await api('GET', 'sign-requests')) || [];
    const ul = $('history');
    ul.replaceChildren();
    for (const r of list.filter((x) => x.state !== 'pending')) {
      const docs = el('ul', { class: 'docs' });
      for (const d of r.documents || []) {
        const links = r.state === 'signed' && d.signed_size > 0 ? docLinks(r, d, true) : [];
        docs.append(el('li', { 'data-doc': String(d.index) }, d.name + ' ', ...links));
      }
      ul.append(el('li', { 'data-id': r.id },
        el('a', { class: 'title', href: '#/requests/' + encodeURIComponent(r.id) }, purpose(r)), ' ', stateBadge(r.state),
        el('div', { class: 'meta' }, (agencyOf(r) ? agencyOf(r) + ' · ' : '') + fmtDate(r.completed || r.created)),
        docs));
    }
    $('history-empty').hidden = ul.children.length > 0;
  }

  async function renderDevices() {
    await loadMe();
    const ul = $('devices');
    ul.replaceChildren();
    for (const d of (state.me && state.me.devices) || []) {
      const li = el('li', { 'data-device': d.id },
        el('strong', {}, d.name), ' ', el('span', { class: 'state ' + (d.disabled ? 'disabled' : 'signed') }, t(d.disabled ? 'disabled' : 'active_device')),
        el('div', { class: 'meta' }, t('added') + ': ' + fmtDate(d.created)),
        d.last_used ? el('div', { class: 'meta' }, t('last_used') + ': ' + fmtDate(d.last_used)) : null);
      if (!d.disabled) {
        const off = el('button', { type: 'button', class: 'danger disable' }, t('disable'));
        const sure = el('button', { type: 'button', class: 'danger disable-confirm', hidden: true }, t('disable_confirm'));
        off.addEventListener('click', () => { off.hidden = true; sure.hidden = false; sure.focus(); });
        sure.addEventListener('click', () => busy(sure, () => disableDevice(d, 'lost_why')));
        li.append(off, sure);
      }
      ul.append(li);
    }
  }

  async function disableDevice(d, whyKey) {
    await api('POST', 'me/devices/' + encodeURIComponent(d.id) + '/disable', { why: T.en[whyKey] });
    await route(true);
    notice('device_disabled_notice', { name: d.name });
  }

  async function addDevice(ev) {
    ev.preventDefault();
    await busy($('add-device'), async () => {
      needPasskeys();
      const begun = await api('POST', 'me/devices/begin');
      const cred = await navigator.credentials.create(creationOptions(begun.options));
      const name = $('new-device').value.trim() || t('default_device');
      await api('POST', 'me/devices/finish', { ceremony_id: begun.ceremony_id, device_name: name, credential: registrationJSON(cred) });
      $('add-device-form').reset();
      await route(true);
      notice('device_added_notice', { name });
    });
  }

  async function renderLost() {
    await loadMe();
    const box = $('lost-devices');
    box.replaceChildren();
    for (const d of ((state.me && state.me.devices) || []).filter((x) => !x.disabled)) {
      const id = 'lost-' + d.id;
      box.append(el('div', {}, el('input', { type: 'radio', name: 'lost', id, value: d.id }),
        el('label', { htmlFor: id, class: 'inline' }, d.name + ' — ' + t('added') + ' ' + fmtDate(d.created))));
    }
  }

  // ---- actions --------------------------------------------------------
  // prefill fills the activation form from the text of the officer's QR
  // code (thiqa:activate?nid=…&code=…), pasted or scanned into the code
  // field, or given after #/activate? in a link.
  function prefill(text) {
    const m = /^thiqa:activate\?(.*)$/.exec(text.trim()) || /^#\/activate\?(.*)$/.exec(text);
    if (!m) return false;
    const q = new URLSearchParams(m[1]);
    if (q.get('nid')) $('nid').value = q.get('nid');
    if (q.get('code')) $('code').value = q.get('code');
    return true;
  }

  async function activate(ev) {
    ev.preventDefault();
    prefill($('code').value);
    const nid = westernDigits($('nid').value).replace(/\s/g, '');
    const code = westernDigits($('code').value).toUpperCase().replace(/[\s-]/g, '');
    let ok = true;
    for (const [field, bad, key] of [['nid', !/^[0-9]{10}$/.test(nid), 'err_nid'], ['code', !/^[0-9A-Z]{10}$/.test(code), 'err_code_format']]) {
      const err = $(field + '-err');
      err.hidden = !bad;
      err.textContent = bad ? t(key) : '';
      err.dataset.key = bad ? key : '';
      $(field).setAttribute('aria-invalid', bad ? 'true' : 'false');
      if (bad && ok) $(field).focus();
      ok = ok && !bad;
    }
    if (!ok) return;
    await busy($('activate-submit'), async () => {
      needPasskeys();
      const begun = await api('POST', 'activation/begin', { national_id: nid, code });
      const cred = await navigator.credentials.create(creationOptions(begun.options));
      const device = $('device').value.trim() || t('default_device');
      const done = await api('POST', 'activation/finish', { ceremony_id: begun.ceremony_id, device_name: device, credential: registrationJSON(cred) });
      const id = done.identity || {};
      $('activated-name').textContent = state.lang === 'ar' ? [id.given_name_ar, id.surname_ar].join(' ') : [id.given_name, id.surname].join(' ');
      $('activate-form').reset();
      location.hash = '#/activated';
    });
  }

  async function signIn(btn) {
    await busy(btn, async () => {
      needPasskeys();
      const begun = await api('POST', 'signin/begin');
      const cred = await navigator.credentials.get(requestOptions(begun.options));
      await api('POST', 'signin/finish', { ceremony_id: begun.ceremony_id, credential: assertionJSON(cred) });
      await loadMe();
      const to = state.returnTo || '#/requests';
      state.returnTo = '';
      if (location.hash === to) await route();
      else location.hash = to;
    });
  }

  async function beginApproval() {
    const r = state.request;
    await busy($('approve'), async () => {
      const c = await api('POST', 'sign-requests/' + encodeURIComponent(r.id) + '/approval/begin');
      state.pendingApproval = c;
      $('short-code').textContent = c.code;
      $('req-actions').hidden = true;
      $('req-confirm').hidden = false;
      $('confirm').focus();
    });
  }

  async function confirmApproval() {
    const r = state.request;
    const c = state.pendingApproval;
    if (!r || !c) return;
    await busy($('confirm'), async () => {
      needPasskeys();
      const cred = await navigator.credentials.get(requestOptions(c.options));
      notice('signing_wait');
      let v = await api('POST', 'sign-requests/' + encodeURIComponent(r.id) + '/approval/finish', { ceremony_id: c.ceremony_id, credential: assertionJSON(cred) });
      for (let i = 0; i < 60 && v.state === 'signing'; i++) {
        await new Promise((ok) => setTimeout(ok, 500));
        v = await api('GET', 'sign-requests/' + encodeURIComponent(r.id));
      }
      await renderRequest(r.id);
      notice(v.state === 'signed' ? 'signed_notice' : 'st_' + v.state);
    });
  }

  async function reject(ev) {
    ev.preventDefault();
    const r = state.request;
    await busy($('reject-submit'), async () => {
      await api('POST', 'sign-requests/' + encodeURIComponent(r.id) + '/reject', { why: $('why').value.trim() });
      $('reject-form').reset();
      await renderRequest(r.id);
      notice('rejected_notice');
    });
  }

  async function reportLost(ev) {
    ev.preventDefault();
    const chosen = document.querySelector('input[name="lost"]:checked');
    if (!chosen) {
      clearMessages();
      showKey('lost_none');
      return;
    }
    const d = ((state.me && state.me.devices) || []).find((x) => x.id === chosen.value);
    await busy($('lost-submit'), () => disableDevice(d, 'lost_why'));
  }

  async function suspendMe() {
    await busy($('suspend'), async () => {
      await api('POST', 'me/suspend', { why: T.en.suspend_why });
      await signOut(true);
      notice('suspended_notice');
    });
  }

  async function signOut(quiet) {
    try {
      await api('POST', 'signout');
    } catch (e) {
      if (!(e instanceof APIError && e.status === 401)) throw e;
    }
    state.me = null;
    if (location.hash !== '#/') location.hash = '#/';
    else await route(true);
    if (!quiet) notice('signed_out');
  }

  // ---- start ----------------------------------------------------------
  function wire() {
    $('lang').addEventListener('click', () => {
      state.lang = state.lang === 'ar' ? 'en' : 'ar';
      try { localStorage.setItem('thiqa-lang', state.lang); } catch (e) { /* private mode */ }
      applyLang();
      route(true, true);
    });
    $('activate-form').addEventListener('submit', activate);
    $('code').addEventListener('change', () => prefill($('code').value));
    $('signin').addEventListener('click', () => signIn($('signin')));
    $('signin-after').addEventListener('click', () => signIn($('signin-after')));
    $('approve').addEventListener('click', beginApproval);
    $('confirm').addEventListener('click', confirmApproval);
    $('cancel').addEventListener('click', () => {
      state.pendingApproval = null;
      $('req-confirm').hidden = true;
      $('req-actions').hidden = false;
    });
    $('reject').addEventListener('click', () => {
      $('req-actions').hidden = true;
      $('reject-form').hidden = false;
      $('why').focus();
    });
    $('reject-cancel').addEventListener('click', () => {
      $('reject-form').hidden = true;
      $('req-actions').hidden = false;
    });
    $('reject-form').addEventListener('submit', reject);
    $('lost-form').addEventListener('submit', reportLost);
    $('add-device-form').addEventListener('submit', addDevice);
    $('suspend').addEventListener('click', suspendMe);
    $('signout').addEventListener('click', () => busy($('signout'), () => signOut(false)));
    window.addEventListener('hashchange', () => route());
  }

  async function start() {
    state.lang = chooseLang();
    applyLang();
    wire();
    if ('serviceWorker' in navigator) {
      navigator.serviceWorker.register('/app/sw.js', { scope: '/app/' }).catch(() => { /* the app works without it */ });
    }
    try {
      await loadMe();
    } catch (e) {
      showError(e);
    }
    await route(true);
    document.body.dataset.ready = 'true';
  }

  start();
})();

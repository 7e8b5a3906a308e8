// Admin pages: sites (allowed origins, keys, the embed snippet) and the team.

import { ApiError, api, sentence, type Site, type User } from './api';
import { h, replaceChildren } from './dom';
import { toast } from './toast';

function errorText(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.status === 403) return 'Only an admin may do this.';
    return sentence(e.message);
  }
  return 'Something went wrong; try again.';
}

function fmtDate(v: number | string | undefined): string {
  if (v === undefined || v === null) return '';
  const d = new Date(typeof v === 'number' && v < 1e12 ? v * 1000 : v);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleDateString(undefined, { dateStyle: 'medium' });
}

/** The snippet a site owner pastes into their pages. */
export function embedSnippet(key: string): string {
  return `<script src="${location.origin}/widget.js" data-site="${key}" async></script>`;
}

async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    /* fall back below */
  }
  // Plain-HTTP deployments have no Clipboard API: use a selection.
  const ta = h('textarea', { class: 'offscreen', readonly: true }, text);
  document.body.appendChild(ta);
  ta.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  ta.remove();
  return ok;
}

function copyButton(text: () => string, what: string): HTMLButtonElement {
  const btn = h('button', { type: 'button', class: 'btn btn-secondary btn-sm copy', 'data-testid': 'copy-snippet' }, 'Copy');
  btn.addEventListener('click', async () => {
    if (await copyText(text())) {
      btn.textContent = 'Copied';
      btn.classList.add('done');
      setTimeout(() => {
        btn.textContent = 'Copy';
        btn.classList.remove('done');
      }, 1600);
    } else {
      toast(`Could not copy; select the ${what} and copy it by hand.`);
    }
  });
  return btn;
}

function field(label: string, control: HTMLElement, help?: string): HTMLElement {
  const id = control.id;
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    control,
    help ? h('p', { class: 'help' }, help) : null,
  );
}

// ---------------------------------------------------------------- sites

export function renderSites(root: HTMLElement): void {
  const list = h('div', { class: 'cards', 'data-testid': 'site-list', 'aria-busy': 'true' }, h('p', { class: 'muted' }, 'Loading sites…'));
  const name = h('input', { id: 'site-name', name: 'name', required: true, 'data-testid': 'site-name', placeholder: 'Web shop', autocomplete: 'off' });
  const origins = h('textarea', {
    id: 'site-origins', name: 'origins', rows: '3', 'data-testid': 'site-origins', spellcheck: 'false',
    placeholder: 'https://shop.example.com\nhttps://www.example.com',
  });
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true, 'data-testid': 'site-error' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'site-submit' }, 'Add site');
  const form = h('form', { class: 'panel form', 'data-testid': 'site-form' },
    h('h2', null, 'Add a site'),
    field('Name', name),
    field('Allowed origins', origins, 'One per line: scheme, host and port where the widget runs, e.g. https://shop.example.com. Pages on other origins cannot connect.'),
    error,
    h('div', { class: 'form-actions' }, submit),
  );

  let sites: Site[] = [];
  const draw = (highlight?: string) => {
    list.removeAttribute('aria-busy');
    if (!sites.length) {
      replaceChildren(list, h('p', { class: 'muted' }, 'No sites yet. Add one to get the snippet for your pages.'));
      return;
    }
    replaceChildren(list, sites.map((s) => siteCard(s, s.id === highlight)));
  };

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.hidden = true;
    const n = name.value.trim();
    const o = origins.value.split(/[\n,]+/).map((x) => x.trim()).filter(Boolean);
    if (!n) {
      error.textContent = 'A site needs a name.';
      error.hidden = false;
      name.focus();
      return;
    }
    submit.disabled = true;
    try {
      const site = await api.addSite(n, o);
      sites = [...sites.filter((s) => s.id !== site.id), site];
      draw(site.id);
      form.reset();
      toast(`Site “${site.name}” added. Paste its snippet into your pages.`, 'ok');
      list.querySelector('.card.highlight')?.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
    } catch (err) {
      error.textContent = errorText(err);
      error.hidden = false;
    } finally {
      submit.disabled = false;
    }
  });

  root.replaceChildren(h('div', { class: 'page', 'data-testid': 'sites-page' },
    h('header', { class: 'page-head' },
      h('h1', null, 'Sites'),
      h('p', { class: 'muted' }, 'Each site has its own key and the origins allowed to embed the widget.'),
    ),
    h('div', { class: 'page-grid' }, list, form),
  ));

  api.sites().then((s) => {
    sites = s;
    draw();
  }, (err) => {
    list.removeAttribute('aria-busy');
    replaceChildren(list, h('p', { class: 'form-error' }, errorText(err)));
  });
}

function siteCard(s: Site, highlight: boolean): HTMLElement {
  const snippet = embedSnippet(s.key);
  return h('article', { class: `card${highlight ? ' highlight' : ''}`, 'data-testid': 'site-item', 'data-site-id': s.id, 'data-site-key': s.key },
    h('header', { class: 'card-head' },
      h('h3', null, s.name),
      s.is_demo ? h('span', { class: 'tag' }, 'demo') : null,
      h('span', { class: 'muted small' }, fmtDate(s.created_at) ? `added ${fmtDate(s.created_at)}` : ''),
    ),
    h('dl', { class: 'kv' },
      h('dt', null, 'Key'), h('dd', null, h('code', { 'data-testid': 'site-key' }, s.key)),
      h('dt', null, 'Origins'),
      h('dd', null, s.origins.length
        ? h('ul', { class: 'origins' }, s.origins.map((o) => h('li', null, h('code', null, o))))
        : s.is_demo
          ? h('span', { class: 'muted' }, 'this server only (the demo pages at ', h('a', { href: '/demo/', target: '_blank' }, '/demo/'), ')')
          : h('span', { class: 'warn' }, 'none — no page can embed the widget yet')),
    ),
    h('div', { class: 'snippet' },
      h('pre', { 'data-testid': 'embed-snippet' }, h('code', null, snippet)),
      copyButton(() => snippet, 'snippet'),
    ),
    privacyForm(s),
  );
}

/** Lines of a selector list that no browser can parse. */
function invalidSelectors(lines: string[]): string[] {
  return lines.filter((sel) => {
    try {
      document.querySelector(sel);
      return false;
    } catch {
      return true;
    }
  });
}

function lines(text: string): string[] {
  return text.split('\n').map((l) => l.trim()).filter(Boolean);
}

/** What the agent masks on this site beyond what it always protects; applies from the next broadcast. */
function privacyForm(s: Site): HTMLElement {
  const p = s.privacy ?? { mask_all_inputs: false, block_selectors: [], mask_selectors: [], keep_url_params: [] };
  const id = (k: string) => `site-${s.id}-${k}`;
  const maskAll = h('input', { type: 'checkbox', id: id('mask-all'), 'data-testid': 'privacy-mask-all' }) as HTMLInputElement;
  maskAll.checked = p.mask_all_inputs;
  const block = h('textarea', { id: id('block'), rows: '2', spellcheck: 'false', 'data-testid': 'privacy-block', placeholder: '.account-balance\n#order-history' }, p.block_selectors.join('\n')) as HTMLTextAreaElement;
  const mask = h('textarea', { id: id('mask'), rows: '2', spellcheck: 'false', 'data-testid': 'privacy-mask', placeholder: '.customer-name' }, p.mask_selectors.join('\n')) as HTMLTextAreaElement;
  const keep = h('textarea', { id: id('keep'), rows: '2', spellcheck: 'false', 'data-testid': 'privacy-keep-params', placeholder: 'page\nutm_source' }, (p.keep_url_params ?? []).join('\n')) as HTMLTextAreaElement;
  const ttl = h('input', { type: 'number', id: id('ttl'), min: '1', max: '8760', 'data-testid': 'privacy-ttl', value: String(s.consent_ttl_hours ?? 24) }) as HTMLInputElement;
  const status = h('p', { class: 'help', role: 'status', 'data-testid': 'privacy-status' });
  const save = h('button', { type: 'submit', class: 'btn btn-secondary btn-sm', 'data-testid': 'privacy-save' }, 'Save privacy settings');
  const form = h('form', { class: 'privacy', 'data-testid': 'privacy-form' },
    h('h4', null, 'Screen broadcast privacy'),
    h('p', { class: 'help' },
      'Always protected, whatever is set here: password fields (also when shown as text), payment-card fields, hidden inputs, the chat widget, and elements marked ',
      h('code', null, '<div data-chatcast-private>'), ' (a grey box of the same size) or ',
      h('code', null, '<p data-chatcast-mask>'), ' (text masked, layout kept); rr-block, rr-mask and data-private too.'),
    h('label', { class: 'check' }, maskAll, ' Mask every input field'),
    field('Blocked elements (CSS selectors, one per line)', block, 'Replaced by a grey box of the same size.'),
    field('Masked text (CSS selectors, one per line)', mask, 'Text masked, layout kept; so are titles, placeholders, alt texts, aria labels, data attributes, values and links inside.'),
    field('URL parameters shown unmasked (one per line)', keep,
      'Page URLs keep their path and parameter names; every parameter value and the #fragment is masked before it leaves the visitor\'s page, unless listed here (# keeps the fragment).'),
    field('Remember a visitor\'s consent for (hours)', ttl),
    status,
    h('div', { class: 'form-actions' }, save),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const bad = invalidSelectors([...lines(block.value), ...lines(mask.value)]);
    if (bad.length) {
      status.textContent = `Not a CSS selector: ${bad.join(', ')}`;
      status.className = 'form-error';
      return;
    }
    save.disabled = true;
    try {
      const updated = await api.saveSiteSettings(s.id, {
        mask_all_inputs: maskAll.checked,
        block_selectors: lines(block.value),
        mask_selectors: lines(mask.value),
        keep_url_params: lines(keep.value),
      }, Number(ttl.value) || 24);
      s.privacy = updated.privacy;
      s.consent_ttl_hours = updated.consent_ttl_hours;
      status.textContent = 'Saved — applies from the next screen broadcast, no redeploy needed.';
      status.className = 'help ok';
    } catch (err) {
      status.textContent = errorText(err);
      status.className = 'form-error';
    } finally {
      save.disabled = false;
    }
  });
  return form;
}

// ---------------------------------------------------------------- team

export function renderTeam(root: HTMLElement, myEmail: string): void {
  const tbody = h('tbody', null, h('tr', null, h('td', { colspan: '3', class: 'muted' }, 'Loading…')));
  const table = h('table', { class: 'table', 'data-testid': 'user-list' },
    h('thead', null, h('tr', null, h('th', null, 'Name'), h('th', null, 'Email'), h('th', null, 'Role'))),
    tbody,
  );
  const email = h('input', { id: 'user-email', type: 'email', required: true, autocomplete: 'off', 'data-testid': 'user-email', spellcheck: 'false' });
  const name = h('input', { id: 'user-name', autocomplete: 'off', 'data-testid': 'user-name', placeholder: 'Shown to visitors' });
  const password = h('input', { id: 'user-password', type: 'password', required: true, autocomplete: 'new-password', 'data-testid': 'user-password' });
  const role = h('select', { id: 'user-role', 'data-testid': 'user-role' },
    h('option', { value: 'consultant' }, 'Consultant'),
    h('option', { value: 'admin' }, 'Admin'),
  );
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true, 'data-testid': 'user-error' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'user-submit' }, 'Add to team');
  const form = h('form', { class: 'panel form', 'data-testid': 'user-form', autocomplete: 'off' },
    h('h2', null, 'Add a team member'),
    field('Email', email),
    field('Name', name, 'Optional. Visitors see it next to replies.'),
    field('Password', password, 'Share it with them privately.'),
    field('Role', role, 'Admins also manage sites and the team.'),
    error,
    h('div', { class: 'form-actions' }, submit),
  );

  let users: User[] = [];
  const draw = (highlight?: string) => {
    if (!users.length) {
      replaceChildren(tbody, h('tr', null, h('td', { colspan: '3', class: 'muted' }, 'No one yet.')));
      return;
    }
    replaceChildren(tbody, users.map((u) => h('tr', {
      'data-testid': 'user-item', 'data-user-id': String(u.id), class: highlight && u.email.toLowerCase() === highlight.toLowerCase() ? 'highlight' : undefined,
    },
      h('td', null, u.name || h('span', { class: 'muted' }, '—'), u.email === myEmail ? h('span', { class: 'tag' }, 'you') : null),
      h('td', null, u.email),
      h('td', null, h('span', { class: `role role-${u.role}` }, u.role)),
    )));
  };

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.hidden = true;
    const em = email.value.trim();
    if (!em || !password.value) {
      error.textContent = 'Email and password are required.';
      error.hidden = false;
      (em ? password : email).focus();
      return;
    }
    submit.disabled = true;
    try {
      const nm = name.value.trim();
      const created = await api.addUser({ email: em, password: password.value, role: role.value, ...(nm ? { name: nm } : {}) });
      form.reset();
      toast(`${created?.name || nm || em} can now log in.`, 'ok');
      try {
        users = await api.users();
      } catch {
        if (created) users = [...users, created];
      }
      draw(em);
    } catch (err) {
      error.textContent = errorText(err);
      error.hidden = false;
    } finally {
      submit.disabled = false;
    }
  });

  root.replaceChildren(h('div', { class: 'page', 'data-testid': 'team-page' },
    h('header', { class: 'page-head' },
      h('h1', null, 'Team'),
      h('p', { class: 'muted' }, 'Everyone who can log in to the console.'),
    ),
    h('div', { class: 'page-grid' }, h('div', { class: 'panel table-wrap' }, table), form),
  ));

  api.users().then((u) => {
    users = u;
    draw();
  }, (err) => replaceChildren(tbody, h('tr', null, h('td', { colspan: '3', class: 'form-error' }, errorText(err)))));
}

// Admin pages: sites (allowed origins, keys, the embed snippet) and the team; and every user's own account (their sessions).

import { ApiError, api, asRole, sentence, type SessionInfo, type Site, type User } from './api';
import { h, replaceChildren } from './dom';
import { toast } from './toast';

export function errorText(e: unknown): string {
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

export function field(label: string, control: HTMLElement, help?: string): HTMLElement {
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
    replaceChildren(list, sites.map((s) => siteCard(s, s.id === highlight, {
      renamed: (site) => {
        sites = sites.map((x) => (x.id === site.id ? site : x));
        draw(site.id);
      },
      removed: (id) => {
        sites = sites.filter((x) => x.id !== id);
        draw();
      },
    })));
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

/**
 * A Remove button that asks once more, in place: `box` lays out the question
 * around the Yes and Keep buttons (test ids `ID`, `ID-confirm`, `ID-cancel`).
 */
function askBeforeRemoving(
  testid: string,
  yesLabel: string,
  box: (yes: HTMLButtonElement, keep: HTMLElement) => HTMLElement,
): { remove: HTMLButtonElement; yes: HTMLButtonElement; confirm: HTMLElement } {
  const remove = h('button', { type: 'button', class: 'btn btn-ghost btn-sm btn-danger-text', 'data-testid': testid }, 'Remove') as HTMLButtonElement;
  const yes = h('button', { type: 'button', class: 'btn btn-danger btn-sm', 'data-testid': `${testid}-confirm` }, yesLabel) as HTMLButtonElement;
  const keep = h('button', { type: 'button', class: 'btn btn-ghost btn-sm', 'data-testid': `${testid}-cancel` }, 'Keep');
  const confirm = box(yes, keep);
  const asking = (on: boolean) => {
    confirm.hidden = !on;
    remove.hidden = on;
    if (on) yes.focus();
  };
  asking(false);
  remove.addEventListener('click', () => asking(true));
  keep.addEventListener('click', () => asking(false));
  return { remove, yes, confirm };
}

function siteCard(s: Site, highlight: boolean, on: { renamed(s: Site): void; removed(id: string): void }): HTMLElement {
  const snippet = embedSnippet(s.key);
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true, 'data-testid': 'site-card-error' });
  const fail = (err: unknown) => {
    error.textContent = errorText(err);
    error.hidden = false;
  };
  const title = h('h3', null, s.name);

  // Rename, in place.
  const input = h('input', { value: s.name, 'aria-label': `New name of ${s.name}`, 'data-testid': 'site-rename-input', class: 'rename-input' }) as HTMLInputElement;
  const save = h('button', { type: 'submit', class: 'btn btn-primary btn-sm', 'data-testid': 'site-rename-save' }, 'Save');
  const cancelRename = h('button', { type: 'button', class: 'btn btn-ghost btn-sm' }, 'Cancel');
  const renameForm = h('form', { class: 'rename', hidden: true }, input, save, cancelRename);
  const rename = h('button', { type: 'button', class: 'btn btn-ghost btn-sm', 'data-testid': 'site-rename' }, 'Rename');
  rename.addEventListener('click', () => {
    title.hidden = true;
    renameForm.hidden = false;
    input.focus();
    input.select();
  });
  cancelRename.addEventListener('click', () => {
    renameForm.hidden = true;
    title.hidden = false;
  });
  renameForm.addEventListener('submit', (e) => {
    e.preventDefault();
    error.hidden = true;
    // The server checks the name and says what is wrong with it.
    api.renameSite(s.id, input.value.trim()).then((site) => {
      toast(`Site renamed to “${site.name}”.`, 'ok');
      on.renamed(site);
    }, fail);
  });

  // Remove: says what goes with it, and asks once more.
  const { remove, yes, confirm } = askBeforeRemoving('site-remove', 'Remove site', (yes, keep) =>
    h('div', { class: 'confirm site-confirm', role: 'alertdialog', 'aria-label': `Remove ${s.name}?` },
      h('p', null, `Remove “${s.name}”? Its visitors and all their conversations are deleted, and its widget stops working on every page at once.`),
      h('div', null, yes, keep)));
  yes.addEventListener('click', () => {
    yes.disabled = true;
    api.removeSite(s.id).then(() => {
      toast(`Site “${s.name}” removed.`, 'ok');
      on.removed(s.id);
    }, (err) => {
      yes.disabled = false;
      fail(err);
    });
  });

  return h('article', { class: `card${highlight ? ' highlight' : ''}`, 'data-testid': 'site-item', 'data-site-id': s.id, 'data-site-key': s.key },
    h('header', { class: 'card-head' },
      title,
      renameForm,
      s.is_demo ? h('span', { class: 'tag' }, 'demo') : null,
      h('span', { class: 'muted small' }, fmtDate(s.created_at) ? `added ${fmtDate(s.created_at)}` : ''),
      h('span', { class: 'card-actions' }, rename, remove),
    ),
    confirm,
    error,
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
    identityBox(s, fail),
    widgetForm(s),
    privacyForm(s),
  );
}

/** The identity secret, shown on request, and how the site's server signs with it. */
function identityBox(s: Site, fail: (err: unknown) => void): HTMLElement {
  const out = h('div', { class: 'identity-secret', hidden: true });
  const show = h('button', { type: 'button', class: 'btn btn-ghost btn-sm', 'data-testid': 'site-identity-secret' }, 'Show identity secret');
  show.addEventListener('click', () => {
    api.identitySecret(s.id).then((secret) => {
      replaceChildren(out,
        h('p', { class: 'muted small' }, 'Keep it on your server. To tell the chat who a logged-in visitor is, sign their id there and call ',
          h('code', null, 'Chatcast.identify({ id, name, email, signature })'), ' on the page, with ',
          h('code', null, 'signature = hex(HMAC-SHA256(secret, id))'), '. Unsigned names show as “unverified”.'),
        h('pre', null, h('code', { 'data-testid': 'site-identity-secret-value' }, secret)),
        copyButton(() => secret, 'secret'));
      out.hidden = false;
      show.hidden = true;
    }, fail);
  });
  return h('div', { class: 'identity' }, show, out);
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

/** Runs a form's save with its button held down; `status` says what came of it. */
async function saving(button: HTMLButtonElement, status: HTMLElement, save: () => Promise<string>): Promise<void> {
  button.disabled = true;
  try {
    status.textContent = await save();
    status.className = 'help ok';
  } catch (err) {
    status.textContent = errorText(err);
    status.className = 'form-error';
  } finally {
    button.disabled = false;
  }
}

/** How the widget looks and speaks on this site; applies from each visitor's next page. */
function widgetForm(s: Site): HTMLElement {
  const w = s.widget;
  const id = (k: string) => `site-${s.id}-widget-${k}`;
  const greeting = h('textarea', { id: id('greeting'), rows: '2', maxlength: '500', 'data-testid': 'widget-greeting', placeholder: 'Questions about an order? Send us a message and we will answer right here.' }, w.greeting) as HTMLTextAreaElement;
  const offline = h('textarea', { id: id('offline'), rows: '2', maxlength: '500', 'data-testid': 'widget-offline-text', placeholder: 'Nobody can answer right now. Leave your message and your email address, and we will answer by email.' }, w.offline_text) as HTMLTextAreaElement;
  const custom = h('input', { type: 'checkbox', 'data-testid': 'widget-color-custom', checked: !!w.color }) as HTMLInputElement;
  const color = h('input', { type: 'color', id: id('color'), 'data-testid': 'widget-color', value: w.color || '#4f46e5', 'aria-label': 'Colour' }) as HTMLInputElement;
  color.disabled = !custom.checked;
  custom.addEventListener('change', () => (color.disabled = !custom.checked));
  const position = h('select', { id: id('position'), 'data-testid': 'widget-position' },
    h('option', { value: 'right' }, 'Bottom right'), h('option', { value: 'left' }, 'Bottom left')) as HTMLSelectElement;
  position.value = w.position;
  const language = h('select', { id: id('language'), 'data-testid': 'widget-language' },
    h('option', { value: 'en' }, 'English'), h('option', { value: 'ru' }, 'Русский')) as HTMLSelectElement;
  language.value = w.language;
  const prechat = h('input', { type: 'checkbox', 'data-testid': 'widget-prechat', checked: w.prechat }) as HTMLInputElement;
  const status = h('p', { class: 'help', role: 'status', 'data-testid': 'widget-settings-status' });
  const save = h('button', { type: 'submit', class: 'btn btn-secondary btn-sm', 'data-testid': 'widget-settings-save' }, 'Save widget settings');
  const form = h('form', { class: 'privacy', 'data-testid': 'widget-settings' },
    h('h4', null, 'Chat widget'),
    field('Greeting', greeting, 'The first words of an empty chat. Empty: the language\'s own.'),
    field('When nobody is online', offline, 'Shown with a field for the visitor\'s email address while no consultant of this site has the console open; answers then go by email.'),
    h('div', { class: 'row-fields' },
      h('div', { class: 'field' }, h('label', { for: id('color') }, 'Colour'), h('label', { class: 'check' }, custom, ' Own colour ', color)),
      field('Position', position),
      field('Language', language)),
    h('label', { class: 'check' }, prechat, ' Ask for a name and email address before the first message'),
    status,
    h('div', { class: 'form-actions' }, save),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    await saving(save, status, async () => {
      const updated = await api.saveWidgetSettings(s.id, {
        greeting: greeting.value,
        offline_text: offline.value,
        color: custom.checked ? color.value : '',
        position: position.value === 'left' ? 'left' : 'right',
        language: language.value === 'ru' ? 'ru' : 'en',
        prechat: prechat.checked,
      });
      s.widget = updated.widget;
      return 'Saved — visitors see it from their next page.';
    });
  });
  return form;
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
    await saving(save, status, async () => {
      const updated = await api.saveSiteSettings(s.id, {
        mask_all_inputs: maskAll.checked,
        block_selectors: lines(block.value),
        mask_selectors: lines(mask.value),
        keep_url_params: lines(keep.value),
      }, Number(ttl.value) || 24);
      s.privacy = updated.privacy;
      s.consent_ttl_hours = updated.consent_ttl_hours;
      return 'Saved — applies from the next screen broadcast, no redeploy needed.';
    });
  });
  return form;
}

// ---------------------------------------------------------------- team

export function renderTeam(root: HTMLElement, myEmail: string): void {
  const tbody = h('tbody', null, h('tr', null, h('td', { colspan: '3', class: 'muted' }, 'Loading…')));
  const table = h('table', { class: 'table team-table', 'data-testid': 'user-list' },
    h('thead', null, h('tr', null, h('th', null, 'Person'), h('th', null, 'Role'), h('th', null, h('span', { class: 'sr-only' }, 'Actions')))),
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
  let sites: Site[] = [];
  const teamError = h('p', { class: 'form-error', role: 'alert', hidden: true, 'data-testid': 'team-error' });
  const showTeamError = (err: unknown) => {
    teamError.textContent = errorText(err);
    teamError.hidden = false;
  };
  const refresh = async (highlight?: string) => {
    try {
      [users, sites] = await Promise.all([api.users(), api.sites()]);
    } catch (err) {
      showTeamError(err);
    }
    draw(highlight);
  };
  /** Users whose new-password form is open (it stays open across redraws until saved or cancelled). */
  const passwordFor = new Set<string>();
  /** Users whose sites form is open (the same way). */
  const sitesFor = new Set<string>();
  /**
   * Runs one change of a row, then shows the list as the server has it (also
   * when refused: the row shows what really is), then the refusal, and puts
   * the focus back on the same control of the redrawn row.
   */
  const change = async (u: User, control: HTMLButtonElement | HTMLSelectElement, work: () => Promise<unknown>, done: string,
    after?: (ok: boolean) => void) => {
    teamError.hidden = true;
    control.disabled = true;
    let ok = true;
    let refusal: unknown;
    try {
      await work();
      toast(done, 'ok');
    } catch (err) {
      ok = false;
      refusal = err;
    }
    after?.(ok);
    await refresh();
    if (!ok) showTeamError(refusal);
    // A refused new password: back to its field, still open; otherwise to the control used.
    const key = String(u.id);
    const focus = !ok && passwordFor.has(key) ? 'user-new-password' : control.dataset.testid;
    if (focus) tbody.querySelector<HTMLElement>(`[data-user-id="${CSS.escape(key)}"] [data-testid="${focus}"]`)?.focus({ preventScroll: true });
  };

  const row = (u: User, highlight?: string): HTMLElement[] => {
    const label = u.name || u.email;
    const roleSelect = h('select', { 'data-testid': 'user-role-select', 'aria-label': `Role of ${label}` },
      h('option', { value: 'consultant', selected: u.role === 'consultant' }, 'Consultant'),
      h('option', { value: 'admin', selected: u.role === 'admin' }, 'Admin'),
    ) as HTMLSelectElement;
    roleSelect.addEventListener('change', () => {
      const to = asRole(roleSelect.value);
      void change(u, roleSelect, () => api.updateUser(u.id, { role: to }),
        `${label} is now ${to === 'admin' ? 'an admin' : 'a consultant'} and was logged out.`);
    });
    const disable = h('button', {
      type: 'button', class: 'btn btn-secondary btn-sm', 'data-testid': 'user-disable', 'data-state': u.disabled ? 'disabled' : 'active',
    }, u.disabled ? 'Enable' : 'Disable') as HTMLButtonElement;
    disable.addEventListener('click', () => void change(u, disable, () => api.updateUser(u.id, { disabled: !u.disabled }),
      u.disabled ? `${label} can log in again.` : `${label} is disabled and logged out everywhere.`));

    // A new password: an inline form in the row below, not a browser prompt.
    const pwInput = h('input', {
      type: 'password', autocomplete: 'new-password', required: true, 'data-testid': 'user-new-password',
      'aria-label': `New password for ${label}`, placeholder: 'New password, 8 characters or more',
    }) as HTMLInputElement;
    const pwSave = h('button', { type: 'submit', class: 'btn btn-primary btn-sm', 'data-testid': 'user-password-save' }, 'Save password') as HTMLButtonElement;
    const pwCancel = h('button', { type: 'button', class: 'btn btn-ghost btn-sm' }, 'Cancel');
    const pwForm = h('form', { class: 'row-form' }, pwInput, pwSave, pwCancel);
    const id = String(u.id);
    const pwRow = h('tr', { class: 'row-extra', 'data-user-id': id, hidden: !passwordFor.has(id) }, h('td', { colspan: '3' }, pwForm));
    const pwOpen = h('button', {
      type: 'button', class: 'btn btn-ghost btn-sm', 'data-testid': 'user-password-set', 'aria-expanded': passwordFor.has(id) ? 'true' : 'false',
    }, 'Set password');
    const showPw = (open: boolean) => {
      if (open) passwordFor.add(id);
      else passwordFor.delete(id);
      pwRow.hidden = !open;
      pwOpen.setAttribute('aria-expanded', String(open));
      if (open) pwInput.focus();
      else pwInput.value = '';
    };
    pwOpen.addEventListener('click', () => showPw(pwRow.hidden));
    pwCancel.addEventListener('click', () => showPw(false));
    pwForm.addEventListener('submit', (e) => {
      e.preventDefault();
      void change(u, pwSave, () => api.updateUser(u.id, { password: pwInput.value }), `New password set for ${label}; they were logged out.`,
        (ok) => {
          if (ok) passwordFor.delete(id);
        });
    });

    // Sites: every site, or the ones ticked (admins see every site whatever is set).
    const siteNames = (ids: string[] | null) =>
      ids === null ? 'Every site' : ids.length ? ids.map((i) => sites.find((x) => x.id === i)?.name ?? '?').join(', ') : 'No site';
    const allBox = h('input', { type: 'checkbox', 'data-testid': 'user-sites-all', checked: u.sites === null }) as HTMLInputElement;
    const boxes = sites.map((site) => h('input', {
      type: 'checkbox', 'data-testid': 'user-site', 'data-site-key': site.key, value: site.id,
      checked: u.sites === null || u.sites.includes(site.id), disabled: u.sites === null,
    }) as HTMLInputElement);
    allBox.addEventListener('change', () => {
      for (const b of boxes) {
        b.disabled = allBox.checked;
        if (allBox.checked) b.checked = true;
      }
    });
    const sitesSave = h('button', { type: 'submit', class: 'btn btn-primary btn-sm', 'data-testid': 'user-sites-save' }, 'Save sites') as HTMLButtonElement;
    const sitesCancel = h('button', { type: 'button', class: 'btn btn-ghost btn-sm' }, 'Cancel');
    const sitesForm = h('form', { class: 'row-form sites-form' },
      h('label', { class: 'check' }, allBox, 'Every site, also sites added later'),
      ...sites.map((site, i) => h('label', { class: 'check' }, boxes[i], site.name)),
      h('span', null, sitesSave, sitesCancel));
    const sitesRow = h('tr', { class: 'row-extra', 'data-user-id': id, hidden: !sitesFor.has(id) }, h('td', { colspan: '3' }, sitesForm));
    const sitesOpen = h('button', {
      type: 'button', class: 'btn btn-ghost btn-sm', 'data-testid': 'user-sites', 'aria-expanded': sitesFor.has(id) ? 'true' : 'false',
      hidden: u.role === 'admin', title: 'The sites whose visitors they see and answer',
    }, 'Sites');
    const showSites = (open: boolean) => {
      if (open) sitesFor.add(id);
      else sitesFor.delete(id);
      sitesRow.hidden = !open;
      sitesOpen.setAttribute('aria-expanded', String(open));
    };
    sitesOpen.addEventListener('click', () => showSites(sitesRow.hidden));
    sitesCancel.addEventListener('click', () => showSites(false));
    sitesForm.addEventListener('submit', (e) => {
      e.preventDefault();
      const chosen = allBox.checked ? null : boxes.filter((b) => b.checked).map((b) => b.value);
      void change(u, sitesSave, () => api.setUserSites(u.id, chosen), `${label} now works on: ${siteNames(chosen).toLowerCase()}.`,
        (ok) => {
          if (ok) sitesFor.delete(id);
        });
    });

    // Remove: asks once more, in place.
    const { remove, yes, confirm } = askBeforeRemoving('user-remove', 'Remove', (yes, keep) =>
      h('span', { class: 'confirm' }, h('span', null, `Remove ${label}?`), yes, keep));
    yes.addEventListener('click', () => void change(u, yes, () => api.removeUser(u.id), `${label} was removed and logged out everywhere.`));

    const cls = [highlight && u.email.toLowerCase() === highlight.toLowerCase() ? 'highlight' : '', u.disabled ? 'is-disabled' : ''].filter(Boolean).join(' ');
    return [
      h('tr', { 'data-testid': 'user-item', 'data-user-id': String(u.id), 'data-disabled': u.disabled ? 'true' : 'false', class: cls || undefined },
        h('td', { class: 'person' },
          h('div', null, h('strong', null, u.name || u.email), u.email === myEmail ? h('span', { class: 'tag' }, 'you') : null,
            u.disabled ? h('span', { class: 'tag tag-off', 'data-testid': 'user-disabled-tag', title: 'Cannot log in' }, 'disabled') : null),
          u.name ? h('div', { class: 'muted small' }, u.email) : null,
          h('div', { class: 'muted small', 'data-testid': 'user-sites-summary' }, u.role === 'admin' ? 'Every site (admin)' : siteNames(u.sites))),
        h('td', null, roleSelect),
        h('td', { class: 'row-actions' }, h('div', null, disable, sitesOpen, pwOpen, remove, confirm)),
      ),
      pwRow,
      sitesRow,
    ];
  };
  const draw = (highlight?: string) => {
    if (!users.length) {
      replaceChildren(tbody, h('tr', null, h('td', { colspan: '3', class: 'muted' }, 'No one yet.')));
      return;
    }
    replaceChildren(tbody, users.flatMap((u) => row(u, highlight)));
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
      const created = await api.addUser({ email: em, password: password.value, role: asRole(role.value), ...(nm ? { name: nm } : {}) });
      form.reset();
      toast(`${created?.name || nm || em} can now log in.`, 'ok');
      await refresh(em);
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
      h('p', { class: 'muted' }, 'Everyone who can log in to the console. Disabling someone, removing them, or giving them a new role or password logs them out everywhere at once. Where you yourself are logged in: ',
        h('a', { href: '#/account', 'data-testid': 'team-my-sessions' }, 'your sessions'), '.'),
    ),
    h('div', { class: 'page-grid' }, h('div', { class: 'panel table-wrap' }, teamError, table), form),
  ));

  Promise.all([api.users(), api.sites()]).then(([u, s]) => {
    users = u;
    sites = s;
    draw();
  }, (err) => replaceChildren(tbody, h('tr', null, h('td', { colspan: '3', class: 'form-error' }, errorText(err)))));
}

// ---------------------------------------------------------------- your account

/** "Chrome on Linux" from a user agent, or the start of it. */
function browserOf(ua: string): string {
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /Chrom(e|ium)\//.test(ua) ? 'Chrome'
    : /Safari\//.test(ua) ? 'Safari' : '';
  const os = /Windows/.test(ua) ? 'Windows' : /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS'
    : /Mac OS X/.test(ua) ? 'macOS' : /Linux/.test(ua) ? 'Linux' : '';
  if (browser && os) return `${browser} on ${os}`;
  return browser || os || ua.slice(0, 40) || 'Unknown browser';
}

function when(ms: number): string {
  return new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** The logged-in user's own sessions: where they are logged in, and signing the others out. */
export function renderAccount(root: HTMLElement, me: { name: string; email: string }): void {
  const list = h('ul', { class: 'session-list', 'data-testid': 'session-list' }, h('li', { class: 'muted' }, 'Loading…'));
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true, 'data-testid': 'session-error' });
  const load = () => api.sessions().then(draw, (err) => {
    error.textContent = errorText(err);
    error.hidden = false;
  });
  const draw = (sessions: SessionInfo[]) => {
    // This browser first, then the most recently used.
    const sorted = [...sessions].sort((a, b) => Number(b.current) - Number(a.current) || b.last_seen_at - a.last_seen_at);
    replaceChildren(list, sorted.map((s) => {
      const revoke = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', 'data-testid': 'session-revoke' }, 'Sign out') as HTMLButtonElement;
      revoke.addEventListener('click', async () => {
        revoke.disabled = true;
        error.hidden = true;
        try {
          await api.revokeSession(s.id);
          toast(`Signed out ${browserOf(s.user_agent)} (${s.client_ip || 'unknown address'}).`, 'ok');
        } catch (err) {
          error.textContent = errorText(err);
          error.hidden = false;
        }
        await load();
      });
      return h('li', { class: 'session', 'data-testid': 'session-row', 'data-current': s.current ? 'true' : 'false' },
        h('div', null,
          h('strong', null, browserOf(s.user_agent)), s.current ? h('span', { class: 'tag' }, 'this browser') : null,
          h('div', { class: 'muted' }, `${s.client_ip || 'unknown address'} · last used ${when(s.last_seen_at)} · since ${when(s.created_at)}`),
        ),
        s.current ? h('span', { class: 'muted' }, 'Log out above to end it') : revoke,
      );
    }));
  };
  root.replaceChildren(h('div', { class: 'page', 'data-testid': 'account-page' },
    h('header', { class: 'page-head' },
      h('h1', null, 'Your account'),
      h('p', { class: 'muted' }, me.name ? `${me.name} · ${me.email}` : me.email),
    ),
    h('section', { class: 'panel account-sessions' },
      h('h2', null, 'Your sessions'),
      h('p', { class: 'muted' }, 'Sign out a browser you no longer use: its console closes at once.'),
      error,
      list,
    ),
  ));
  void load();
}

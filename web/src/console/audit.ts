// Admin page: the screen broadcast audit trail — every request, answer,
// start, stop and failure, with time and consultant (GET /api/audit).

import { ApiError, api, sentence, type AuditEntry } from './api';
import { h, replaceChildren } from './dom';
import { visitorName } from './format';

const EVENT_LABEL: Record<string, string> = {
  requested: 'Requested',
  granted: 'Allowed',
  denied: 'Declined',
  timeout: 'Timed out',
  unsupported: 'Browser unsupported',
  weak_connection: 'Weak connection',
  offline: 'Visitor offline',
  started: 'Started',
  stopped: 'Stopped',
  consent_revoked: 'Consent revoked',
  stopped_by_visitor: 'Stopped by visitor',
  too_much_data: 'Ended: too much data',
};

function row(a: AuditEntry): HTMLElement {
  const when = new Date(a.at);
  return h('tr', { 'data-testid': 'audit-row', 'data-event': a.event },
    h('td', { class: 'nowrap' }, h('time', { datetime: when.toISOString(), title: when.toString() }, when.toLocaleString())),
    h('td', null, a.site_name),
    h('td', null, h('a', { href: `#/chat/${encodeURIComponent(a.visitor_id)}` }, visitorName(a.visitor_id))),
    h('td', null, a.consultant_name ?? h('span', { class: 'muted' }, '—')),
    h('td', null, h('span', { class: `tag audit-${a.event}` }, EVENT_LABEL[a.event] ?? a.event)),
    h('td', { class: 'muted' }, a.detail),
  );
}

export function renderAudit(root: HTMLElement): void {
  const tbody = h('tbody', null, h('tr', null, h('td', { colspan: '6', class: 'muted' }, 'Loading…')));
  const filter = h('input', { id: 'audit-visitor', placeholder: 'Filter by visitor id (v_…)', 'data-testid': 'audit-filter', autocomplete: 'off' });
  const refresh = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', 'data-testid': 'audit-refresh' }, 'Refresh');
  const load = async () => {
    try {
      const rows = await api.audit(filter.value.trim() || undefined);
      replaceChildren(tbody, rows.length ? rows.map(row)
        : h('tr', null, h('td', { colspan: '6', class: 'muted' }, 'No screen broadcast has been requested yet.')));
    } catch (e) {
      const msg = e instanceof ApiError ? sentence(e.message) : 'Could not load the audit trail; try again.';
      replaceChildren(tbody, h('tr', null, h('td', { colspan: '6', class: 'form-error' }, msg)));
    }
  };
  refresh.addEventListener('click', load);
  filter.addEventListener('change', load);
  root.replaceChildren(h('div', { class: 'page', 'data-testid': 'audit-page' },
    h('header', { class: 'page-head' },
      h('h1', null, 'Audit'),
      h('p', { class: 'muted' }, 'Every screen broadcast request, answer, start, stop and failure, newest first.'),
    ),
    h('div', { class: 'toolbar' }, filter, refresh),
    h('table', { class: 'table', 'data-testid': 'audit-log' },
      h('thead', null, h('tr', null, ...['When', 'Site', 'Visitor', 'Consultant', 'Event', 'Detail'].map((t) => h('th', null, t)))),
      tbody,
    ),
  ));
  void load();
}

// The console's HTTP API (docs/protocol.md, "HTTP API (console)").

import type { Attachment } from '../protocol/Attachment';
import type { WidgetSettings } from '../protocol/WidgetSettings';
import type { Me } from '../protocol/Me';
import type { PrivacySettings } from '../protocol/PrivacySettings';
import type { AuditEntry } from '../protocol/AuditEntry';
import type { Role } from '../protocol/Role';
import type { Session } from '../protocol/Session';
import type { Site } from '../protocol/Site';
import type { CannedReply } from '../protocol/CannedReply';
import type { SearchHit } from '../protocol/SearchHit';
import type { Teammate } from '../protocol/Teammate';
import type { VisitorDetails } from '../protocol/VisitorDetails';
import type { User } from '../protocol/User';

// What the API answers: generated from chatcast-protocol's `api` module.
export type { AuditEntry, CannedReply, Role, Site, User };
/** One of the logged-in user's console sessions. */
export type SessionInfo = Session;

export interface ApiErrorInfo {
  status: number;
  code: string;
  message: string;
  /** Seconds, from `Retry-After` (429). */
  retryAfter?: number;
}

export class ApiError extends Error {
  constructor(readonly info: ApiErrorInfo) {
    super(info.message);
  }
  get status(): number {
    return this.info.status;
  }
}

/** `role` as a Role (a form's select value); anything else is a consultant. */
export function asRole(role: string): Role {
  return role === 'admin' ? 'admin' : 'consultant';
}

/** What an admin may change of an account (each change ends its sessions, except the name). */
export interface UserChange {
  disabled?: boolean;
  role?: Role;
  password?: string;
  name?: string;
}

/** Called when any request answers 401: the session is gone. */
let onUnauthorized: (() => void) | null = null;
export function setUnauthorizedHandler(f: () => void): void {
  onUnauthorized = f;
}

async function request<T>(method: string, path: string, body?: unknown, opts: { quiet401?: boolean } = {}): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      // A form (an upload) sets its own multipart type.
      headers: body === undefined || body instanceof FormData ? { Accept: 'application/json' } : { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: body === undefined ? undefined : body instanceof FormData ? body : JSON.stringify(body),
    });
  } catch {
    throw new ApiError({ status: 0, code: 'network', message: 'The server cannot be reached. Check your connection and try again.' });
  }
  const text = await res.text();
  let data: any = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    // `{error: {code, message}}`; a flat `{error: code, message}` is read too.
    const body = data && typeof data === 'object' ? data : null;
    const e = body && typeof body.error === 'object' && body.error ? body.error
      : body && typeof body.error === 'string' ? { code: body.error, message: body.message } : null;
    const retry = Number(res.headers.get('Retry-After'));
    const info: ApiErrorInfo = {
      status: res.status,
      code: typeof e?.code === 'string' ? e.code : `http_${res.status}`,
      message: typeof e?.message === 'string' && e.message ? e.message
        : (text.trim().slice(0, 200) || `The server answered ${res.status} ${res.statusText}`),
      retryAfter: Number.isFinite(retry) && retry > 0 ? retry : undefined,
    };
    if (res.status === 401 && !opts.quiet401) onUnauthorized?.();
    throw new ApiError(info);
  }
  return data as T;
}

export const api = {
  /** The logged-in user, or null without a session. */
  async me(): Promise<Me | null> {
    try {
      return await request<Me>('GET', '/api/me', undefined, { quiet401: true });
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return null;
      throw e;
    }
  },
  login(email: string, password: string): Promise<unknown> {
    return request('POST', '/api/login', { email, password }, { quiet401: true });
  },
  logout(): Promise<unknown> {
    return request('POST', '/api/logout', undefined, { quiet401: true });
  },
  sites(): Promise<Site[]> {
    return request<Site[]>('GET', '/api/sites');
  },
  /** Messages of every transcript with all the words of `q`, newest first. */
  search(q: string): Promise<SearchHit[]> {
    return request<SearchHit[]>('GET', `/api/search?q=${encodeURIComponent(q)}`);
  },
  /** The team's saved replies, by shortcut. */
  canned(): Promise<CannedReply[]> {
    return request<CannedReply[]>('GET', '/api/canned');
  },
  saveCanned(id: string | null, shortcut: string, body: string): Promise<CannedReply> {
    return id === null
      ? request<CannedReply>('POST', '/api/canned', { shortcut, body })
      : request<CannedReply>('PUT', `/api/canned/${encodeURIComponent(id)}`, { shortcut, body });
  },
  removeCanned(id: string): Promise<unknown> {
    return request('DELETE', `/api/canned/${encodeURIComponent(id)}`);
  },
  /** The key the site's server signs visitor ids with (`Chatcast.identify`). */
  async identitySecret(siteId: string): Promise<string> {
    return (await request<{ secret: string }>('GET', `/api/sites/${encodeURIComponent(siteId)}/identity-secret`)).secret;
  },
  /** Who a visitor is, for the visitor panel. */
  visitor(id: string): Promise<VisitorDetails> {
    return request<VisitorDetails>('GET', `/api/visitors/${encodeURIComponent(id)}`);
  },
  /** Who a conversation can be handed to. */
  team(): Promise<Teammate[]> {
    return request<Teammate[]>('GET', '/api/team');
  },
  addSite(name: string, origins: string[]): Promise<Site> {
    return request<Site>('POST', '/api/sites', { name, origins });
  },
  /** Privacy settings apply from the next broadcast start: no redeploy. */
  saveSiteSettings(id: string, privacy: PrivacySettings, consent_ttl_hours: number): Promise<Site> {
    return request<Site>('PUT', `/api/sites/${encodeURIComponent(id)}/settings`, { privacy, consent_ttl_hours });
  },
  /** Uploads a file to a visitor's dialog; send it with the next message (`attachment_id`). */
  uploadFile(visitorId: string, file: File): Promise<Attachment> {
    const form = new FormData();
    form.append('visitor_id', visitorId);
    form.append('file', file, file.name);
    return request<Attachment>('POST', '/api/files', form);
  },
  /** How the site's widget looks and speaks (from each visitor's next page). */
  saveWidgetSettings(id: string, settings: WidgetSettings): Promise<Site> {
    return request<Site>('PUT', `/api/sites/${encodeURIComponent(id)}/widget`, settings);
  },
  renameSite(id: string, name: string): Promise<Site> {
    return request<Site>('PUT', `/api/sites/${encodeURIComponent(id)}/name`, { name });
  },
  /** Removes the site with its visitors and their conversations. */
  removeSite(id: string): Promise<unknown> {
    return request('DELETE', `/api/sites/${encodeURIComponent(id)}`);
  },
  audit(visitorId?: string): Promise<AuditEntry[]> {
    const q = visitorId ? `&visitor_id=${encodeURIComponent(visitorId)}` : '';
    return request<AuditEntry[]>('GET', `/api/audit?limit=500${q}`);
  },
  users(): Promise<User[]> {
    return request<User[]>('GET', '/api/users');
  },
  addUser(u: { email: string; password: string; role: Role; name?: string }): Promise<User | null> {
    return request<User | null>('POST', '/api/users', u);
  },
  /** The sites a consultant works on (`null`: every site). */
  setUserSites(id: string | number, sites: string[] | null): Promise<User> {
    return request<User>('PUT', `/api/users/${encodeURIComponent(String(id))}/sites`, { sites });
  },
  updateUser(id: string | number, change: UserChange): Promise<User> {
    return request<User>('PATCH', `/api/users/${encodeURIComponent(String(id))}`, change);
  },
  removeUser(id: string | number): Promise<unknown> {
    return request('DELETE', `/api/users/${encodeURIComponent(String(id))}`);
  },
  sessions(): Promise<SessionInfo[]> {
    return request<SessionInfo[]>('GET', '/api/sessions');
  },
  revokeSession(id: string): Promise<unknown> {
    return request('DELETE', `/api/sessions/${encodeURIComponent(id)}`);
  },
};

/** A server message, starting with a capital letter. */
export function sentence(msg: string): string {
  const m = msg.trim();
  return m ? m[0].toUpperCase() + m.slice(1) : m;
}

/** The console's WebSocket endpoint on this server. */
export function consoleSocketUrl(): string {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${location.host}/ws/console`;
}

// Loads agent.js (the recorder) from the widget's own server, once, when a
// broadcast is about to start (see shared/load-script.ts).

import { loadScript } from '../shared/load-script';
import { AGENT_API_VERSION, AGENT_SCRIPT_PROP, type AgentApi } from './api';

/** The recorder's API; the same promise for every caller. A failed load may be retried later. */
export async function loadAgent(url: string, nonce: string | null): Promise<AgentApi> {
  const api = (await loadScript(url, nonce, AGENT_SCRIPT_PROP, 'recorder')) as AgentApi;
  if (typeof api?.start !== 'function') throw new Error('the recorder script did not start');
  if (api.version !== AGENT_API_VERSION) throw new Error(`the recorder is version ${api.version}, the widget needs ${AGENT_API_VERSION}`);
  return api;
}

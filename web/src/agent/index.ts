// agent.js: the screen recorder, a second bundle the widget loads from its
// own server only when a broadcast is about to start, so that pages that
// never broadcast do not pay for rrweb. It defines no global: it hands its
// API to the widget as a property of its own <script> element.

import { AGENT_API_VERSION, AGENT_SCRIPT_PROP, type AgentApi } from './api';
import { startRecording } from './recorder';
import { checkSupport } from './support';

const api: AgentApi = {
  version: AGENT_API_VERSION,
  checkSupport,
  start: startRecording,
};

try {
  const script = document.currentScript;
  if (script) (script as unknown as Record<string, unknown>)[AGENT_SCRIPT_PROP] = api;
  else console.warn('[chatcast] agent.js must be loaded by the chat widget');
} catch (e) {
  console.warn('[chatcast] agent.js failed to start:', e);
}

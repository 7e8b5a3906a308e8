// The contract between the widget (widget.js) and the recorder (agent.js),
// which the widget loads only when a broadcast is about to start.

import type { PrivacySettings } from '../protocol/PrivacySettings';

/** Bumped when the shape below changes incompatibly. */
export const AGENT_API_VERSION = 1;

export interface StartOptions {
  /** The site's privacy settings from `screencast_start`. */
  privacy: PrivacySettings;
  /** Sends one binary screen frame; false if it could not go out (the socket is down). */
  send(frame: Uint8Array): boolean;
  /** The widget's host element: never mirrored. */
  widgetHost: Element | null;
  /**
   * The widget's secret-input watch (privacy.ts SecretWatch), running since
   * the page loaded so that it knows inputs that were passwords before.
   */
  secrets: { startRecording(): void; stopRecording(): void; readonly knownRoots: (Document | ShadowRoot)[] };
  /** Recording had to end on its own (e.g. the page is too large to send): tell the server why. */
  onFatal(detail: string): void;
}

export interface AgentSession {
  /** Stops at once: no frame is sent after this returns. Idempotent. */
  stop(): void;
  /** The server asked for a keyframe: the next frame is a full snapshot. */
  keyframe(): void;
  /** Whether the session is still recording. */
  readonly active: boolean;
}

export interface AgentApi {
  version: number;
  /** APIs the recorder needs that this browser lacks (empty: fine). */
  checkSupport(): string[];
  /** Starts recording. Only ever called after the visitor's consent. */
  start(options: StartOptions): AgentSession;
}

/** Where agent.js leaves its API: a property of its own <script> element (no global). */
export const AGENT_SCRIPT_PROP = '__chatcastAgent';

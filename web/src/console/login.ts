// The login page.

import { ApiError, api, sentence } from './api';
import { h } from './dom';

/** Renders the login form into `root`; calls `done` once the session cookie is set. */
export function renderLogin(root: HTMLElement, done: () => void, notice?: string): void {
  document.title = 'Log in · Chatcast';
  const email = h('input', {
    id: 'login-email', 'data-testid': 'login-email', type: 'email', name: 'email',
    autocomplete: 'username', required: true, spellcheck: 'false',
  });
  const password = h('input', {
    id: 'login-password', 'data-testid': 'login-password', type: 'password', name: 'password',
    autocomplete: 'current-password', required: true,
  });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block', 'data-testid': 'login-submit' }, 'Log in');
  const error = h('p', { class: 'form-error', 'data-testid': 'login-error', role: 'alert', hidden: true });
  const info = notice ? h('p', { class: 'form-info' }, notice) : null;
  let countdown: ReturnType<typeof setInterval> | null = null;

  const showError = (msg: string) => {
    error.textContent = msg;
    error.hidden = false;
  };

  const form = h('form', { class: 'login-card', novalidate: true },
    h('div', { class: 'login-brand' }, logo(), h('span', null, 'Chatcast')),
    h('h1', null, 'Log in to the console'),
    info,
    h('label', { for: 'login-email' }, 'Email'),
    email,
    h('label', { for: 'login-password' }, 'Password'),
    password,
    error,
    submit,
  );

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (submit.disabled) return;
    if (!email.value.trim() || !password.value) {
      showError('Enter your email and password.');
      (email.value.trim() ? password : email).focus();
      return;
    }
    error.hidden = true;
    submit.disabled = true;
    submit.textContent = 'Logging in…';
    try {
      await api.login(email.value.trim(), password.value);
      if (countdown) clearInterval(countdown);
      done();
      return;
    } catch (e) {
      const info = e instanceof ApiError ? e.info : null;
      if (info?.status === 401) {
        showError('Email or password is incorrect');
        password.select();
        password.focus();
      } else if (info?.status === 429) {
        let left = info.retryAfter ?? 30;
        const tick = () => {
          if (left <= 0) {
            if (countdown) clearInterval(countdown);
            countdown = null;
            error.hidden = true;
            submit.disabled = false;
            submit.textContent = 'Log in';
            return;
          }
          showError(`Too many attempts, try again in ${left} s`);
          left--;
        };
        tick();
        if (countdown) clearInterval(countdown);
        countdown = setInterval(tick, 1000);
        submit.textContent = 'Log in';
        return; // stays disabled until the wait is over
      } else {
        showError(info ? sentence(info.message) : 'Something went wrong; try again.');
      }
    }
    submit.disabled = false;
    submit.textContent = 'Log in';
  });

  root.replaceChildren(h('main', { class: 'login-page' }, form));
  email.focus();
}

/** The Chatcast mark (inline SVG, no external files). */
export function logo(): SVGSVGElement {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', 'logo');
  svg.setAttribute('aria-hidden', 'true');
  const p = document.createElementNS(ns, 'path');
  p.setAttribute('d', 'M4 5.5A2.5 2.5 0 0 1 6.5 3h11A2.5 2.5 0 0 1 20 5.5v8a2.5 2.5 0 0 1-2.5 2.5H10l-4.2 3.6c-.5.4-1.3.1-1.3-.6V16A2.5 2.5 0 0 1 4 13.5z');
  p.setAttribute('fill', 'currentColor');
  const c = document.createElementNS(ns, 'circle');
  c.setAttribute('cx', '12'); c.setAttribute('cy', '9.5'); c.setAttribute('r', '2.6');
  c.setAttribute('fill', 'var(--logo-eye, #fff)');
  svg.append(p, c);
  return svg;
}

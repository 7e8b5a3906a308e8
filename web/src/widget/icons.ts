// Inline SVG icons (no external resources), drawn with currentColor. Built
// with DOM calls, not innerHTML, so pages that enforce Trusted Types work too.

const NS = 'http://www.w3.org/2000/svg';

type Shape = ['path', string] | ['circle', number, number, number];

function icon(shapes: Shape[], cls?: string): SVGSVGElement {
  const svg = document.createElementNS(NS, 'svg');
  const attrs: Record<string, string> = {
    viewBox: '0 0 24 24',
    fill: 'none',
    stroke: 'currentColor',
    'stroke-width': '2',
    'stroke-linecap': 'round',
    'stroke-linejoin': 'round',
    'aria-hidden': 'true',
    focusable: 'false',
  };
  for (const [k, v] of Object.entries(attrs)) svg.setAttribute(k, v);
  if (cls) svg.setAttribute('class', cls);
  for (const s of shapes) {
    const node = document.createElementNS(NS, s[0]);
    if (s[0] === 'path') node.setAttribute('d', s[1]);
    else {
      node.setAttribute('cx', String(s[1]));
      node.setAttribute('cy', String(s[2]));
      node.setAttribute('r', String(s[3]));
    }
    svg.append(node);
  }
  return svg;
}

export const iconChat = (cls?: string) =>
  icon(
    [
      ['path', 'M21 12a8.5 8.5 0 0 1-12.3 7.6L3 21l1.5-5.2A8.5 8.5 0 1 1 21 12z'],
      ['circle', 8.5, 12, 0.6],
      ['circle', 12, 12, 0.6],
      ['circle', 15.5, 12, 0.6],
    ],
    cls,
  );
export const iconClose = (cls?: string) => icon([['path', 'M18 6 6 18M6 6l12 12']], cls);
export const iconMinimize = () => icon([['path', 'm6 9 6 6 6-6']]);
export const iconMove = () => icon([['path', 'M7 7h13m-4-4 4 4-4 4M17 17H4m4-4-4 4 4 4']]);
export const iconSend = () => icon([['path', 'M22 2 11 13'], ['path', 'M22 2 15 22l-4-9-9-4 20-7z']]);

/** A paperclip: attach a file. */
export function iconAttach(): SVGSVGElement {
  return icon([['path', 'M21 11.5 12.5 20a5 5 0 0 1-7-7l8.5-8.5a3.3 3.3 0 0 1 4.7 4.7L10.2 17.7a1.7 1.7 0 0 1-2.4-2.4L15.5 7.6']]);
}

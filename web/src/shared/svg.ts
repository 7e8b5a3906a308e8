// Inline SVG line icons (no external resources), drawn with currentColor.
// Built with DOM calls, not innerHTML, so pages that enforce Trusted Types work too.

const NS = 'http://www.w3.org/2000/svg';

export type Shape = ['path', string] | ['circle', number, number, number];

/** A 24×24 line icon of these shapes. */
export function svgIcon(shapes: Shape[], cls?: string): SVGSVGElement {
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

// The widget's icons (see shared/svg.ts).

import { svgIcon as icon } from '../shared/svg';

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

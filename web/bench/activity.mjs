// The scripted visitor of a "busy page": what a person does on a shop page
// while talking to support, on a fixed 60 Hz schedule so that every run does
// the same thing:
//   - the pointer moves for 2 s, rests for 1 s (page.mouse.move, 60 Hz while moving)
//   - a character is typed into the message box every 333 ms (page.keyboard)
//   - the page is scrolled by the wheel every 2 s (400 px, down twice, up twice)
// The page itself updates a ticker table, a feed and a card's class (pages.mjs).
import { sleep } from './lib.mjs';

const TEXT = 'Hello, I would like to know whether the blue kettle ships to Lyon before Friday, and whether I can pay on delivery. ';

function pathPos(i) {
  // A Lissajous curve over the page, clear of the widget's corner.
  const x = 480 + 380 * Math.sin(i / 37);
  const y = 340 + 220 * Math.sin(i / 23 + 1);
  return [Math.round(x), Math.round(y)];
}

export async function driveActivity(page, ms) {
  await page.click('#msg');
  const period = 1000 / 60;
  const t0 = performance.now();
  let moveI = 0;
  let typed = 0;
  let wheels = 0;
  for (let tick = 0; ; tick++) {
    const at = t0 + tick * period;
    if (at - t0 >= ms) break;
    const wait = at - performance.now();
    if (wait > 1) await sleep(wait);
    if (tick % 180 < 120) {
      const [x, y] = pathPos(moveI++);
      await page.mouse.move(x, y);
    }
    if (tick % 20 === 10) await page.keyboard.type(TEXT[typed++ % TEXT.length]);
    if (tick % 120 === 60) await page.mouse.wheel(0, (wheels++ % 4 < 2 ? 1 : -1) * 400);
  }
  return { moves: moveI, typed, wheels };
}

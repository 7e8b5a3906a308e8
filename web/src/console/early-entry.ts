// early.js: see screencast/early.ts.
import { openEarly } from './screencast/early';

openEarly();

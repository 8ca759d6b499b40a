// Entry point from source (tests spawn it with `node --import tsx`); the published bin runs the built copy.
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2));

/** The entry point of bin/zmesh-cni (and of tests running it from src/ through tsx). */
import { cniMain } from './run.js';

process.exitCode = await cniMain();

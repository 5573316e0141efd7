#!/usr/bin/env bun
import { runCli } from './run.ts';

/** The `mc` command (docs/cli.md). All logic is in run.ts so tests can call it in-process too. */
process.exitCode = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr }, process.env, process.cwd());

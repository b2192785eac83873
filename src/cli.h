/* The command line. */
#ifndef TS_CLI_H
#define TS_CLI_H

/* Runs the command in argv; returns the process exit code. */
int ts_cli_main(int argc, char **argv);

#endif

/** The `broker` command's exit codes, the same for every command (listed in the README). */
export const ExitCode = {
  ok: 0,
  /** The broker refused a request (its problem is printed) or a publish failed there. */
  refused: 1,
  /** A mistake on the command line or in its input (an unknown option, a line that is not JSON). */
  usage: 2,
  /** The broker could not be reached, or went away (shut down, or reconnects failed). */
  unreachable: 3,
} as const;

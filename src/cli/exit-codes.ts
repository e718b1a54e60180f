/** Exit codes of `ota`: scripts branch on them. */
export const EXIT_OK = 0;
/** The operation ran and failed (download error, verification failure, server refused). */
export const EXIT_FAILURE = 1;
/** The command line was wrong: unknown option, missing argument. Nothing was done. */
export const EXIT_USAGE = 2;
/** The backend or device could not be reached. */
export const EXIT_UNAVAILABLE = 3;

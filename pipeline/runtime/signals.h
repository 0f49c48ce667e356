#pragma once
// Process signals as flags the pipeline thread polls: SIGINT / SIGTERM ask
// to stop (flush, checkpoint, exit 0), SIGHUP to reload the rules. SIGXFSZ
// is ignored, so a file-size limit fails the state write (reported) instead
// of killing the process unannounced.

namespace promowatch {

void InstallStopHandlers();
bool StopRequested();
// Asks the running job to stop, as SIGTERM would (--duration, a fatal error).
void RequestStop();
// True once per SIGHUP received.
bool TakeReloadRequest();

}  // namespace promowatch

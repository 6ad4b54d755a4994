/**
 * Holds response writes until node has worked through the sockets that were readable
 * together, then writes them one after another: setImmediate runs once the event loop's
 * poll phase has dispatched every ready socket.
 *
 * Why: each write to a loopback or local socket wakes the client's thread if it sleeps,
 * and the server pays for that wake-up inside its write. Written as each answer is
 * decided, a busy server's writes each find the client asleep again; written in a burst,
 * only the first does. On the bench machine that was about a fifth of the server CPU per
 * warm check (bench/RESULTS.md). The cost is latency bounded by one poll batch: nothing
 * when a single request is in, the decision time of the others in the batch under load.
 */
export function createWriteBatch(onError: (error: unknown) => void): (write: () => void) => void {
  let queue: Array<() => void> = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    const writes = queue;
    queue = [];
    for (const write of writes) {
      // One response's failure must not strand the others of its batch.
      try {
        write();
      } catch (error) {
        onError(error);
      }
    }
  };
  return (write) => {
    queue.push(write);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
}

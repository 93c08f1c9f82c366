/* The bounded queue of events from the packet threads to JS (handshake
 * messages, wants-handshake, keypair confirmations). Producers never block
 * and never allocate: a full queue drops and counts. The consumer is woken
 * once per burst: notify is called only when the queue was drained empty
 * since the last call, so JS drains a batch per wake-up. */
#include <stdlib.h>
#include <string.h>

#include "wg_device.h"

int wg_events_init(wg_device *d) {
  d->events = wg_pages_alloc(WG_EVENT_QUEUE * sizeof *d->events);
  if (!d->events) return -1;
  pthread_mutex_init(&d->events_lock, NULL);
  return 0;
}

void wg_events_destroy(wg_device *d) {
  wg_pages_free(d->events, WG_EVENT_QUEUE * sizeof *d->events);
  d->events = NULL;
  pthread_mutex_destroy(&d->events_lock);
}

bool wg_events_push(wg_device *d, const wg_event *e) {
  size_t limit = e->type == WG_EVENT_HANDSHAKE_MESSAGE ? WG_EVENT_QUEUE - WG_EVENT_RESERVED : WG_EVENT_QUEUE;
  bool call_notify = false;
  pthread_mutex_lock(&d->events_lock);
  if (d->events_count >= limit) {
    pthread_mutex_unlock(&d->events_lock);
    return false;
  }
  d->events[(d->events_head + d->events_count) % WG_EVENT_QUEUE] = *e;
  d->events_count++;
  if (!d->events_notified) {
    d->events_notified = true;
    call_notify = true;
  }
  pthread_mutex_unlock(&d->events_lock);
  if (call_notify && d->notify) d->notify(d->notify_ctx);
  return true;
}

size_t wg_device_drain_events(wg_device *d, wg_event *out, size_t max) {
  pthread_mutex_lock(&d->events_lock);
  size_t n = d->events_count < max ? d->events_count : max;
  for (size_t i = 0; i < n; ++i) {
    out[i] = d->events[d->events_head];
    memset(&d->events[d->events_head], 0, sizeof(wg_event));
    d->events_head = (d->events_head + 1) % WG_EVENT_QUEUE;
  }
  d->events_count -= n;
  if (d->events_count == 0) d->events_notified = false;
  pthread_mutex_unlock(&d->events_lock);
  return n;
}

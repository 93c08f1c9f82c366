/* libnftables on a namespace-bound helper thread: see nft.h. */
#include "nft.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nftables/libnftables.h>

/* libnftables' interface cache and symbol tables are globals shared by every
 * context; two contexts in two threads at once would race on them. */
static pthread_mutex_t library_lock = PTHREAD_MUTEX_INITIALIZER;

struct nft_job {
  const char *netns_path;
  const char *commands;
  zm_nft_result *result;
  int rc;
};

static char *copy_or_empty(const char *text) {
  return strdup(text ? text : "");
}

/* Runs under library_lock, in the target namespace. */
static int run_commands(const char *commands, zm_nft_result *result) {
  struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
  if (!ctx) return -ENOMEM;
  /* JSON output also makes nft_run_cmd_from_buffer parse the input as JSON. */
  nft_ctx_output_set_flags(ctx, NFT_CTX_OUTPUT_JSON);
  int rc = 0;
  if (nft_ctx_buffer_output(ctx) != 0 || nft_ctx_buffer_error(ctx) != 0) {
    rc = -ENOMEM;
  } else {
    result->status = nft_run_cmd_from_buffer(ctx, commands);
    result->output = copy_or_empty(nft_ctx_get_output_buffer(ctx));
    result->error = copy_or_empty(nft_ctx_get_error_buffer(ctx));
    if (!result->output || !result->error) {
      zm_nft_result_free(result);
      rc = -ENOMEM;
    }
  }
  nft_ctx_free(ctx);
  return rc;
}

static void *job_thread(void *arg) {
  struct nft_job *job = arg;
  if (job->netns_path && *job->netns_path) {
    int fd = open(job->netns_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      job->rc = -errno;
      return NULL;
    }
    /* This thread only: it ends when the job is done, so it never has to go back. */
    int entered = setns(fd, CLONE_NEWNET);
    int saved = errno;
    close(fd);
    if (entered < 0) {
      job->rc = -saved;
      return NULL;
    }
  }
  pthread_mutex_lock(&library_lock);
  job->rc = run_commands(job->commands, job->result);
  pthread_mutex_unlock(&library_lock);
  return NULL;
}

int zm_nft_run(const char *netns_path, const char *commands, zm_nft_result *result) {
  memset(result, 0, sizeof *result);
  struct nft_job job = {netns_path, commands, result, 0};
  pthread_t thread;
  int rc = pthread_create(&thread, NULL, job_thread, &job);
  if (rc != 0) return -rc;
  pthread_join(thread, NULL);
  return job.rc;
}

void zm_nft_result_free(zm_nft_result *result) {
  free(result->output);
  free(result->error);
  result->output = NULL;
  result->error = NULL;
}

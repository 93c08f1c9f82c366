/* libnftables on a namespace-bound helper thread: see nft.h. */
#include "nft.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/time.h>

#include <nftables/libnftables.h>

/* libnftables' interface cache and symbol tables are globals shared by every
 * context; two contexts in two threads at once would race on them. */
static pthread_mutex_t library_lock = PTHREAD_MUTEX_INITIALIZER;

struct nft_job {
  const char *netns_path;
  const char *commands;
  zm_nft_result *result;
  int rc;
  /* A second fd of the context's netlink socket, closed after the caller has its answer (or -1). */
  int held_socket;
};

/*
 * The context's netfilter netlink socket, or -1. Closing it is slow when a transaction has just
 * been committed: the kernel's release of an nftables socket first waits for the destruction of
 * the committed transaction's old objects, a full RCU grace period (nf_tables' NETLINK_URELEASE
 * handler flushes that work) — 9–14 ms of each 16 ms table replacement here, with the library lock
 * held, so every other namespace's nft work waited too. Holding a second fd makes the library's
 * own close cheap; the last close then happens on a thread of its own, after the answer.
 *
 * libnftables offers no accessor: the socket is read where nftables (0.9 to 1.1) keeps it, the
 * first member of struct nft_ctx, a libmnl struct mnl_socket whose first member is the fd. Only
 * built against those versions (binding.gyp passes pkg-config's version: a layout we have not read
 * is never dereferenced), and used only when that fd is indeed a NETLINK_NETFILTER socket;
 * otherwise -1, and closing stays inline.
 */
#if defined(ZM_LIBNFTABLES_VERSION) && ZM_LIBNFTABLES_VERSION >= 900 && ZM_LIBNFTABLES_VERSION < 10200
#define ZM_NFT_CTX_LAYOUT_KNOWN 1
#else
#define ZM_NFT_CTX_LAYOUT_KNOWN 0
#endif
static int netfilter_socket_of(struct nft_ctx *ctx) {
  if (!ZM_NFT_CTX_LAYOUT_KNOWN) return -1;
  const int *mnl_socket = *(const int *const *)ctx;
  if (!mnl_socket) return -1;
  int fd = mnl_socket[0];
  int domain = 0, protocol = 0;
  socklen_t length = sizeof domain;
  if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &length) != 0 || domain != AF_NETLINK) return -1;
  length = sizeof protocol;
  if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &length) != 0 || protocol != NETLINK_NETFILTER) return -1;
  return fcntl(fd, F_DUPFD_CLOEXEC, 0);
}

static char *copy_or_empty(const char *text) {
  return strdup(text ? text : "");
}

/* Runs under library_lock, in the target namespace. */
static int run_commands(const char *commands, zm_nft_result *result, int *held_socket) {
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
  *held_socket = netfilter_socket_of(ctx);
  nft_ctx_free(ctx);
  return rc;
}

static void *close_thread(void *arg) {
  close((int)(intptr_t)arg);
  return NULL;
}

/* Closes the held socket off the caller's path (inline should no thread start). */
static void close_later(int fd) {
  if (fd < 0) return;
  pthread_attr_t attr;
  pthread_t thread;
  int started = pthread_attr_init(&attr) == 0 && pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0 &&
                pthread_create(&thread, &attr, close_thread, (void *)(intptr_t)fd) == 0;
  pthread_attr_destroy(&attr);
  if (!started) close(fd);
}

/* Moves the calling thread into the namespace at `path` (none: stays); 0 or -errno. */
static int enter_netns(const char *path) {
  if (!path || !*path) return 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  int entered = setns(fd, CLONE_NEWNET);
  int saved = errno;
  close(fd);
  return entered < 0 ? -saved : 0;
}

static void *job_thread(void *arg) {
  struct nft_job *job = arg;
  /* This thread only: it ends when the job is done, so it never has to go back. */
  int entered = enter_netns(job->netns_path);
  if (entered < 0) {
    job->rc = entered;
    return NULL;
  }
  pthread_mutex_lock(&library_lock);
  job->rc = run_commands(job->commands, job->result, &job->held_socket);
  pthread_mutex_unlock(&library_lock);
  return NULL;
}

int zm_nft_run(const char *netns_path, const char *commands, zm_nft_result *result) {
  memset(result, 0, sizeof *result);
  struct nft_job job = {netns_path, commands, result, 0, -1};
  pthread_t thread;
  int rc = pthread_create(&thread, NULL, job_thread, &job);
  if (rc != 0) return -rc;
  pthread_join(thread, NULL);
  close_later(job.held_socket);
  return job.rc;
}

void zm_nft_result_free(zm_nft_result *result) {
  free(result->output);
  free(result->error);
  result->output = NULL;
  result->error = NULL;
}

/* ---- the nftables generation ---- */

struct generation_job {
  const char *netns_path;
  uint32_t generation;
  int rc;
  int socket; /* closed by the caller, after the answer (or -1) */
};

/* One NFT_MSG_GETGEN round trip on a fresh NETLINK_NETFILTER socket of this thread's namespace. */
static int read_generation(struct generation_job *job) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) return -errno;
  job->socket = fd;
  struct timeval timeout = {2, 0}; /* the kernel answers at once; never wait forever */
  (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  struct {
    struct nlmsghdr header;
    struct nfgenmsg body;
  } request;
  memset(&request, 0, sizeof request);
  request.header.nlmsg_len = sizeof request;
  request.header.nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN;
  request.header.nlmsg_flags = NLM_F_REQUEST;
  request.header.nlmsg_seq = 1;
  request.body.nfgen_family = AF_UNSPEC;
  request.body.version = NFNETLINK_V0;
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  if (sendto(fd, &request, sizeof request, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) return -errno;
  char answer[4096] __attribute__((aligned(NLMSG_ALIGNTO)));
  ssize_t length = recv(fd, answer, sizeof answer, 0);
  if (length < 0) return -errno;
  for (struct nlmsghdr *m = (struct nlmsghdr *)answer; NLMSG_OK(m, (size_t)length); m = NLMSG_NEXT(m, length)) {
    if (m->nlmsg_type == NLMSG_ERROR) {
      const struct nlmsgerr *error = NLMSG_DATA(m);
      return error->error < 0 ? error->error : -EPROTO;
    }
    if (m->nlmsg_type != ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN)) continue;
    size_t at = NLMSG_ALIGN(sizeof(struct nfgenmsg));
    size_t end = m->nlmsg_len - NLMSG_HDRLEN;
    const char *data = NLMSG_DATA(m);
    while (at + sizeof(struct nlattr) <= end) {
      const struct nlattr *attribute = (const struct nlattr *)(data + at);
      if (attribute->nla_len < sizeof(struct nlattr) || at + attribute->nla_len > end) break;
      if ((attribute->nla_type & NLA_TYPE_MASK) == NFTA_GEN_ID && attribute->nla_len >= NLA_HDRLEN + 4) {
        uint32_t id;
        memcpy(&id, data + at + NLA_HDRLEN, sizeof id);
        job->generation = ntohl(id);
        return 0;
      }
      at += NLA_ALIGN(attribute->nla_len);
    }
  }
  return -EPROTO;
}

static void *generation_thread(void *arg) {
  struct generation_job *job = arg;
  int entered = enter_netns(job->netns_path);
  if (entered < 0) {
    job->rc = entered;
    return NULL;
  }
  job->rc = read_generation(job);
  return NULL;
}

int zm_nft_generation(const char *netns_path, uint32_t *generation) {
  struct generation_job job = {netns_path, 0, 0, -1};
  pthread_t thread;
  int rc = pthread_create(&thread, NULL, generation_thread, &job);
  if (rc != 0) return -rc;
  pthread_join(thread, NULL);
  /* Releasing an nftables socket waits for any pending commit's cleanup (see netfilter_socket_of). */
  close_later(job.socket);
  if (job.rc == 0) *generation = job.generation;
  return job.rc;
}

/*
 * spawn-timer: time process spawns the way libvirt runs a hook (fork, exec, the domain XML
 * written into a stdin pipe, stdout read to EOF, waitpid), without Node's spawnSync overhead in
 * the numbers. Compiled by bench/hook-roundtrip.ts at run time with the system `cc`.
 *
 *   spawn-timer ROUNDS JOB [-- JOB ...]      JOB = @STDIN_FILE|@- COMMAND [ARG ...]
 *
 * Runs the jobs round-robin ROUNDS times (interleaved, so machine noise hits them alike) and
 * prints one line per run: "<job index> <nanoseconds> <exit status> <stdout bytes>".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct job {
  char **argv;
  char *input;
  size_t input_len;
};

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) { perror(path); exit(2); }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) { perror(path); exit(2); }
  fclose(f);
  *len = (size_t)n;
  return buf;
}

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void run(int index, const struct job *j) {
  int in[2], out[2];
  static char sink[65536];
  long long t0 = now_ns();
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC)) { perror("pipe"); exit(2); }
  pid_t pid = fork();
  if (pid < 0) { perror("fork"); exit(2); }
  if (pid == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(devnull, 2);
    execv(j->argv[0], j->argv);
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  size_t off = 0;
  while (off < j->input_len) {
    ssize_t w = write(in[1], j->input + off, j->input_len - off);
    if (w < 0) { if (errno == EINTR) continue; break; } /* EPIPE: the child does not read stdin */
    off += (size_t)w;
  }
  close(in[1]);
  size_t got = 0;
  for (;;) {
    ssize_t r = read(out[0], sink, sizeof sink);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(out[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  long long t1 = now_ns();
  printf("%d %lld %d %zu\n", index, t1 - t0, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), got);
}

int main(int argc, char **argv) {
  if (argc < 4) { fprintf(stderr, "usage: spawn-timer ROUNDS @STDIN|@- CMD [ARG...] [-- @STDIN|@- CMD ...]\n"); return 2; }
  signal(SIGPIPE, SIG_IGN);
  int rounds = atoi(argv[1]);
  struct job jobs[16];
  int njobs = 0;
  for (int i = 2; i < argc && njobs < 16;) {
    if (argv[i][0] != '@' || i + 1 >= argc) { fprintf(stderr, "spawn-timer: expected @STDIN CMD at \"%s\"\n", argv[i]); return 2; }
    struct job *j = &jobs[njobs++];
    j->input = NULL;
    j->input_len = 0;
    if (strcmp(argv[i], "@-") != 0) j->input = slurp(argv[i] + 1, &j->input_len);
    j->argv = &argv[i + 1];
    int k = i + 1;
    while (k < argc && strcmp(argv[k], "--") != 0) k++;
    argv[k < argc ? k : argc] = NULL; /* terminates this job's argv (argv[argc] is NULL already) */
    i = k + 1;
  }
  for (int r = 0; r < rounds; r++)
    for (int j = 0; j < njobs; j++) run(j, &jobs[j]);
  return 0;
}

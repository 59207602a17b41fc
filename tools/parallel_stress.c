/* Stress test of the helper pool (csrc/parallel.c) for ThreadSanitizer: tools/tsan_parallel.sh.
 * Three user threads call lk_parallel_run at once with teams of 1-5 threads and barriers inside
 * the task (a wrong barrier gives a wrong sum and aborts); pauses let idle helpers fall asleep,
 * so both the spinning and the sleeping hand-offs run; a forked child then starts its own. */
#include "parallel.h"
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <unistd.h>
#include <sys/wait.h>
typedef struct { long parts[8]; long total; int rounds; } job;
static void task(void *ctx, int tid, int n, lk_team *team) {
    job *j = ctx;
    for (int r = 0; r < j->rounds; r++) {
        j->parts[tid] = tid + r;
        lk_team_barrier(team);
        long s = 0; for (int t = 0; t < n; t++) s += j->parts[t];
        if (s != (long)n * (n - 1) / 2 + (long)n * r) { fprintf(stderr, "bad sum\n"); abort(); }
        lk_team_barrier(team);
    }
    if (tid == 0) j->total = n;
}
static void *caller(void *arg) {
    for (int i = 0; i < 3000; i++) {
        job j = { .rounds = 1 + i % 4 };
        int n = lk_parallel_run(1 + i % 5, task, &j);
        if (n < 1 || n > 5) abort();
        if (i % 500 == 0) usleep(1000);   /* let helpers fall asleep */
    }
    return arg;
}
int main(void) {
    lk_set_num_threads(4);
    pthread_t t[3];
    for (int i = 0; i < 3; i++) pthread_create(&t[i], 0, caller, 0);
    for (int i = 0; i < 3; i++) pthread_join(t[i], 0);
    pid_t pid = fork();
    if (pid == 0) { caller(0); _exit(0); }
    int status; waitpid(pid, &status, 0);
    int child_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    printf("child %s\n", child_ok ? "ok" : "FAILED");
    if (!child_ok) return 1;
    caller(0);
    printf("done\n");
    return 0;
}

/* The transport's ceiling: a FastCGI responder on libfcgi that does nothing but answer.
 * Same library, same accept model (worker threads on FCGX_Accept_r) as the portal.
 * Usage: noop-responder SOCKET_PATH [WORKERS] */
#include <fcgiapp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static int listen_socket;

static void *work(void *unused) {
    (void)unused;
    FCGX_Request request;
    FCGX_InitRequest(&request, listen_socket, 0);
    static const char body[] = "{\"status\":\"ok\"}";
    while (FCGX_Accept_r(&request) >= 0) {
        FCGX_FPrintF(request.out, "Status: 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
                     (int)(sizeof body - 1), body);
        FCGX_Finish_r(&request);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s SOCKET_PATH [WORKERS]\n", argv[0]);
        return 2;
    }
    int workers = argc > 2 ? atoi(argv[2]) : 4;
    FCGX_Init();
    unlink(argv[1]);
    listen_socket = FCGX_OpenSocket(argv[1], 128);
    if (listen_socket < 0) {
        perror("FCGX_OpenSocket");
        return 1;
    }
    chmod(argv[1], 0660);
    pthread_t threads[64];
    for (int i = 0; i < workers && i < 64; i++) pthread_create(&threads[i], NULL, work, NULL);
    for (int i = 0; i < workers && i < 64; i++) pthread_join(threads[i], NULL);
    return 0;
}

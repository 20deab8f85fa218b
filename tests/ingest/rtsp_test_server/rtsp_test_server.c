/* Serves one H.264-in-MP4 file over RTSP on loopback for the ingest tests:
 *   vigil_rtsp_test_server PORT FILE   ->  rtsp://127.0.0.1:PORT/test
 * The tests kill it mid-stream and start it again to exercise reconnection. */
#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>
#include <stdio.h>

int main(int argc, char** argv) {
    gst_init(&argc, &argv);
    if (argc != 3) {
        fprintf(stderr, "usage: %s PORT FILE.mp4\n", argv[0]);
        return 2;
    }
    GMainLoop* loop = g_main_loop_new(NULL, FALSE);
    GstRTSPServer* server = gst_rtsp_server_new();
    gst_rtsp_server_set_address(server, "127.0.0.1");
    gst_rtsp_server_set_service(server, argv[1]);
    GstRTSPMediaFactory* factory = gst_rtsp_media_factory_new();
    gchar* escaped = g_strescape(argv[2], NULL);
    gchar* launch = g_strdup_printf(
        "( filesrc location=\"%s\" ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=-1 )", escaped);
    gst_rtsp_media_factory_set_launch(factory, launch);
    gst_rtsp_media_factory_set_shared(factory, TRUE);
    g_free(launch);
    g_free(escaped);
    GstRTSPMountPoints* mounts = gst_rtsp_server_get_mount_points(server);
    gst_rtsp_mount_points_add_factory(mounts, "/test", factory);
    g_object_unref(mounts);
    if (gst_rtsp_server_attach(server, NULL) == 0) {
        fprintf(stderr, "cannot listen on 127.0.0.1:%s\n", argv[1]);
        return 1;
    }
    g_main_loop_run(loop);
    return 0;
}

using System.Net.Sockets;

namespace Adb.Protocol;

/// <summary>Listening-socket options shared by the adb host server and adbd.</summary>
public static class ListenSocket
{
    /// <summary>
    /// SO_REUSEADDR alone (AOSP's network_inaddr_any_server / socket_inaddr_any_server): a restart can bind while old
    /// connections sit in TIME_WAIT. .NET's <see cref="SocketOptionName.ReuseAddress"/> also sets SO_REUSEPORT on
    /// Linux, which let a second adbd or adb server bind the same port and take half the connections.
    /// </summary>
    /// <param name="socket">A socket not yet bound.</param>
    public static void SetReuseAddressOnly(Socket socket)
    {
        if (OperatingSystem.IsLinux()) socket.SetRawSocketOption(1 /* SOL_SOCKET */, 2 /* SO_REUSEADDR */, BitConverter.GetBytes(1));
        else if (!OperatingSystem.IsWindows()) socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
    }
}

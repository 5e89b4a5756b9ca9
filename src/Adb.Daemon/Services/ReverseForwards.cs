using System.Net;
using System.Net.Sockets;
using System.Text;
using Adb.Protocol;
using Microsoft.Extensions.Logging;

using Adb.Daemon.Services;

namespace Adb.Daemon;

/// <summary>
/// <c>reverse:</c> listeners of one connection (AOSP <c>handle_forward_request</c> on the device side): the daemon
/// listens on a device-local spec (tcp:PORT on 127.0.0.1) and, for each accepted connection, OPENs the host-side
/// spec towards the host (e.g. <c>OPEN "tcp:7300\0"</c>). Replies are in-band: <c>OKAY</c> [+ hex4 port for
/// tcp:0], or <c>FAIL</c> + hex4 + message; <c>list-forward</c> sends hex4 + "host LOCAL REMOTE\n" lines.
/// All listeners close with the connection.
/// </summary>
internal sealed class ReverseForwards
{
    private readonly AdbConnection _conn;
    private readonly Dictionary<string, (string Remote, TcpListener Listener, CancellationTokenSource Cts)> _listeners = new();
    private readonly Lock _lock = new();

    public ReverseForwards(AdbConnection conn) => _conn = conn;

    /// <summary>Handles the text after <c>reverse:</c> and returns the in-band reply bytes.</summary>
    public byte[] Handle(string command)
    {
        if (command == "list-forward")
        {
            var sb = new StringBuilder();
            lock (_lock) foreach (var kv in _listeners) sb.Append("host ").Append(kv.Key).Append(' ').Append(kv.Value.Remote).Append('\n');
            return AdbSmartSocket.FormatLengthPrefixed(sb.ToString());
        }
        if (command == "killforward-all")
        {
            RemoveAll();
            return "OKAY"u8.ToArray();
        }
        if (command.StartsWith("killforward:", StringComparison.Ordinal))
        {
            string local = command["killforward:".Length..];
            lock (_lock)
            {
                if (!_listeners.Remove(local, out var l)) return Fail($"listener '{local}' not found");
                Stop(l.Listener, l.Cts);
            }
            return "OKAY"u8.ToArray();
        }
        if (command.StartsWith("forward:", StringComparison.Ordinal))
        {
            string rest = command["forward:".Length..];
            bool noRebind = false;
            if (rest.StartsWith("norebind:", StringComparison.Ordinal)) { noRebind = true; rest = rest["norebind:".Length..]; }
            string[] pieces = rest.Split(';');
            if (pieces.Length != 2 || pieces[0].Length == 0 || pieces[1].Length == 0 || pieces[1][0] == '*')
                return Fail($"bad forward: {command}");
            string local = pieces[0], remote = pieces[1];
            lock (_lock)
            {
                if (_listeners.TryGetValue(local, out var existing))
                {
                    if (noRebind) return Fail("cannot rebind existing socket");
                    _listeners[local] = (remote, existing.Listener, existing.Cts);
                    return "OKAY"u8.ToArray();
                }
                if (!local.StartsWith("tcp:", StringComparison.Ordinal) || !int.TryParse(local[4..], out int port) || port is < 0 or > 65535)
                    return Fail($"cannot bind listener: unknown socket specification '{local}' (only tcp:PORT is supported)");
                var listener = new TcpListener(IPAddress.Loopback, port);
                try { listener.Start(); }
                catch (SocketException ex) { return Fail("cannot bind listener: " + ex.Message); }
                int bound = ((IPEndPoint)listener.LocalEndpoint).Port;
                string name = port == 0 ? $"tcp:{bound}" : local;
                var cts = new CancellationTokenSource();
                _listeners[name] = (remote, listener, cts);
                _ = Task.Run(() => AcceptLoopAsync(name, listener, cts.Token));
                // 29.0.6 echoes the bound port of a new tcp listener (socket_spec_listen's resolved_tcp_port).
                return [.. "OKAY"u8, .. AdbSmartSocket.FormatLengthPrefixed(bound.ToString(System.Globalization.CultureInfo.InvariantCulture))];
            }
        }
        return Fail($"unsupported reverse request: {command}");
    }

    private static byte[] Fail(string message) => [.. "FAIL"u8, .. AdbSmartSocket.FormatLengthPrefixed(message)];

    private static void Stop(TcpListener l, CancellationTokenSource cts)
    {
        cts.Cancel();
        try { l.Stop(); } catch (Exception) { }
    }

    public void RemoveAll()
    {
        lock (_lock)
        {
            foreach (var l in _listeners.Values) Stop(l.Listener, l.Cts);
            _listeners.Clear();
        }
    }

    private async Task AcceptLoopAsync(string local, TcpListener listener, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            Socket client;
            try { client = await listener.AcceptSocketAsync(ct).ConfigureAwait(false); }
            catch (Exception) { return; }
            string? remote;
            lock (_lock) remote = _listeners.TryGetValue(local, out var l) ? l.Remote : null;
            if (remote is null) { client.Dispose(); return; }
            _ = Task.Run(() => ServeAsync(client, remote));
        }
    }

    private async Task ServeAsync(Socket client, string remote)
    {
        var s = _conn.CreateSocket(0, "reverse " + remote);
        try
        {
            await _conn.SendAsync(AdbCommand.OPEN, s.LocalId, 0, Encoding.UTF8.GetBytes(remote + "\0")).ConfigureAwait(false);
            if (!await s.WaitRemoteReadyAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false))
            {
                _conn.RemoveSocket(s);
                client.Dispose();
                return;
            }
            s.Start();
            await ForwardService.RelayAsync(s, client).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException)
        {
            client.Dispose();
        }
        finally { await s.CloseAsync().ConfigureAwait(false); }
    }
}

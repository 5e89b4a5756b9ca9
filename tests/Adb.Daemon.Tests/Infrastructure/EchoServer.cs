using System.Net;
using System.Net.Sockets;

namespace Adb.Daemon.Tests.Infrastructure;

/// <summary>A loopback TCP echo server on a free port (the forward/reverse target).</summary>
public sealed class EchoServer : IDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _cts = new();
    private int _accepted;

    public int Port { get; }
    public int Accepted => Volatile.Read(ref _accepted);

    public EchoServer()
    {
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _ = Task.Run(AcceptLoop);
    }

    private async Task AcceptLoop()
    {
        while (!_cts.IsCancellationRequested)
        {
            Socket s;
            try { s = await _listener.AcceptSocketAsync(_cts.Token); }
            catch (Exception) { return; }
            Interlocked.Increment(ref _accepted);
            _ = Task.Run(async () =>
            {
                using var ns = new NetworkStream(s, true);
                byte[] buf = new byte[65536];
                try
                {
                    int n;
                    while ((n = await ns.ReadAsync(buf, _cts.Token)) > 0) await ns.WriteAsync(buf.AsMemory(0, n), _cts.Token);
                }
                catch (Exception) { }
            });
        }
    }

    public void Dispose()
    {
        _cts.Cancel();
        _listener.Stop();
    }
}

using System.Buffers;
using System.Threading.Channels;
using Adb.Protocol;

namespace Adb.Cli.Server;

/// <summary>
/// One stream on a <see cref="DeviceTransport"/> (AOSP "remote socket"): classic flow control, one WRTE in flight
/// each way; every WRTE received is acknowledged with OKAY after its bytes were delivered to the local socket.
/// </summary>
internal sealed class DeviceStream
{
    private readonly DeviceTransport _transport;
    private readonly TaskCompletionSource<bool> _opened = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _ack = new(0, 1);
    private readonly Channel<(byte[] Buffer, int Length)> _inbound =
        Channel.CreateUnbounded<(byte[], int)>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private int _closedLocal;
    private volatile bool _remoteClosed;

    /// <summary>Our id for the stream (arg0 of what we send).</summary>
    public uint LocalId { get; }
    /// <summary>The device's id for the stream (0 until its OKAY).</summary>
    public uint RemoteId { get; private set; }
    /// <summary>Completes with true on the device's first OKAY, false on CLSE.</summary>
    public Task<bool> Opened => _opened.Task;

    /// <summary>Creates the stream with a local id.</summary>
    public DeviceStream(DeviceTransport transport, uint localId)
    {
        _transport = transport;
        LocalId = localId;
    }

    internal void OnOkay(uint remoteId)
    {
        if (RemoteId == 0)
        {
            RemoteId = remoteId;
            _opened.TrySetResult(true);
            return;
        }
        if (_ack.CurrentCount == 0) _ack.Release();
    }

    /// <summary>Takes ownership of <paramref name="rented"/> (returns true) to deliver it to the local side.</summary>
    internal bool OnWrite(byte[] rented, int len) => _inbound.Writer.TryWrite((rented, len));

    internal void OnRemoteClosed()
    {
        _remoteClosed = true;
        _opened.TrySetResult(false);
        _inbound.Writer.TryComplete();
        if (_ack.CurrentCount == 0) _ack.Release();
    }

    /// <summary>Sends bytes as WRTEs of at most MaxData, waiting for each OKAY. False once the stream is closed.</summary>
    public async Task<bool> WriteAsync(ReadOnlyMemory<byte> data)
    {
        while (data.Length > 0)
        {
            if (_remoteClosed) return false;
            int n = Math.Min(data.Length, _transport.MaxData);
            try { await _transport.SendPacketAsync(AdbCommand.WRTE, LocalId, RemoteId, data[..n]); }
            catch (Exception e) when (e is IOException or ObjectDisposedException) { return false; }
            await _ack.WaitAsync();
            if (_remoteClosed) return false;
            data = data[n..];
        }
        return true;
    }

    /// <summary>Sends CLSE once.</summary>
    public async Task CloseAsync()
    {
        if (Interlocked.Exchange(ref _closedLocal, 1) != 0) return;
        _transport.Forget(this);
        if (!_remoteClosed)
        {
            try { await _transport.SendPacketAsync(AdbCommand.CLSE, LocalId, RemoteId, ReadOnlyMemory<byte>.Empty); } catch { }
        }
        _inbound.Writer.TryComplete();
        while (_inbound.Reader.TryRead(out var item)) ArrayPool<byte>.Shared.Return(item.Buffer);
    }

    /// <summary>
    /// Pumps bytes both ways between <paramref name="local"/> and the device until either side closes; then closes both.
    /// </summary>
    public async Task RelayAsync(Stream local)
    {
        var up = Task.Run(async () =>
        {
            int size = Math.Max(_transport.MaxData, 4096);
            byte[] a = ArrayPool<byte>.Shared.Rent(size), b = ArrayPool<byte>.Shared.Rent(size);
            try
            {
                // Read the next chunk from the local socket while the previous WRTE waits for its OKAY.
                int n;
                try { n = await local.ReadAsync(a.AsMemory(0, size)); } catch { n = 0; }
                while (n > 0)
                {
                    var write = WriteAsync(a.AsMemory(0, n));
                    var read = ReadSafe(local, b.AsMemory(0, size));
                    if (!await write) { await read; break; }
                    n = await read;
                    (a, b) = (b, a);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(a);
                ArrayPool<byte>.Shared.Return(b);
            }
        });
        var down = Task.Run(async () =>
        {
            try
            {
                await foreach (var (buf, len) in _inbound.Reader.ReadAllAsync())
                {
                    try
                    {
                        await local.WriteAsync(buf.AsMemory(0, len));
                    }
                    catch { return; }
                    finally { ArrayPool<byte>.Shared.Return(buf); }
                    try { await _transport.SendPacketAsync(AdbCommand.OKAY, LocalId, RemoteId, ReadOnlyMemory<byte>.Empty); }
                    catch { return; }
                }
                try { await local.FlushAsync(); } catch { }
            }
            catch (ChannelClosedException) { }
        });
        await Task.WhenAny(up, down);
        if (down.IsCompleted)
        {
            // Device closed: close the local socket (which ends the up pump).
            await CloseAsync();
            try { local.Dispose(); } catch { }
            await up;
        }
        else
        {
            // Local EOF: close the device stream.
            await CloseAsync();
            try { local.Dispose(); } catch { }
            await down;
        }
    }

    private static async Task<int> ReadSafe(Stream s, Memory<byte> m)
    {
        try { return await s.ReadAsync(m); } catch { return 0; }
    }
}

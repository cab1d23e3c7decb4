import { Component, type ErrorInfo, type ReactNode } from 'react';

/** Keeps one page's crash from blanking the desk; shows what broke and a way back. */
export class ErrorBoundary extends Component<{ children: ReactNode; resetKey: string }, { error: Error | null }> {
  override state: { error: Error | null } = { error: null };

  static getDerivedStateFromError(error: Error) {
    return { error };
  }

  override componentDidCatch(error: Error, info: ErrorInfo): void {
    console.error('UI crash', error, info.componentStack);
  }

  override componentDidUpdate(prev: { resetKey: string }): void {
    if (prev.resetKey !== this.props.resetKey && this.state.error) this.setState({ error: null });
  }

  override render() {
    if (this.state.error)
      return (
        <div className="state state-error" role="alert" data-testid="error">
          <strong>This page crashed:</strong> {this.state.error.message}
          <button type="button" className="btn-small" onClick={() => this.setState({ error: null })}>
            Retry
          </button>
        </div>
      );
    return this.props.children;
  }
}
